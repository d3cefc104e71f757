import type { Logger } from 'pino';
import type { Credential, UserCaller } from '../auth/caller.js';
import type { CredentialChecker } from '../auth/credentials.js';
import type { RemoteAuthTokens } from '../auth/remote-auth.js';
import type { BatchDecider } from '../lfs/batch-planner.js';
import type { BatchLimits } from '../lfs/batch-request.js';
import type { LockService } from '../lfs/lock-service.js';
import type { TransferService } from '../lfs/transfer-service.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { TransferGarbage } from '../server/transfer-garbage.js';
import type { SshMetrics } from './ssh-metrics.js';

/**
 * What the SSH commands use: the same services as the HTTP API (access, paths, oids, hashes,
 * quotas and locks are decided there, never here).
 */
export interface SshDeps {
  logger: Logger;
  metadata: MetadataStore;
  transfers: TransferService;
  decider: BatchDecider;
  locks: LockService;
  credentials: CredentialChecker;
  remoteAuth: RemoteAuthTokens;
  /** base URL of the HTTP API (`git-lfs-authenticate` hands it out); read when a command runs */
  publicUrl: () => string;
  limits: BatchLimits;
  /** the `sshTransfer` setting: false makes `git-lfs-transfer` an unknown command */
  sshTransfer: boolean;
  metrics?: SshMetrics;
  /** told of the buffers each transfer is done with, to have them freed as it goes */
  garbage?: TransferGarbage;
}

/** Who opened an SSH session: the credential that proved it (an SSH key, or sshd's word for a user). */
export interface SshIdentity {
  credential: Credential;
  /** the key's SHA256 fingerprint, for log lines */
  fingerprint?: string;
}

/**
 * The user the session's credential stands for right now, or undefined once it is revoked (key
 * removed, user disabled or removed): asked before every command, so open sessions end too.
 */
export async function currentCaller(deps: SshDeps, identity: SshIdentity): Promise<UserCaller | undefined> {
  const user = await deps.credentials.liveUser(identity.credential);
  return user && { kind: 'user', user, credential: identity.credential };
}
