/**
 * The credential `git-lfs-authenticate` hands out over SSH (LFS-PROTOCOL.md section 5.2, issue 13):
 * `Authorization: RemoteAuth <operation>:<repo path>:<token>`, good for one user, one repository
 * and one operation until it expires or the credential the SSH session was opened with (an SSH
 * key) is removed. The token is a transfer token (transfer-token.ts) over a scope no transfer can
 * have (its oid is not an oid), so one kind of signature serves both and neither opens the other.
 * The HTTP side turns the header back into a Caller restricted to that repository and operation
 * (Caller.restrict, auth/access.ts).
 */
import type { Caller, UserCaller } from './caller.js';
import { credentialRef, parseCredentialRef, type CredentialChecker } from './credentials.js';
import type { TransferTokens } from './transfer-token.js';
import { isValidRepoPath } from '../rules.js';

export type RemoteAuthOperation = 'upload' | 'download';

/** the scope's oid: never a valid oid, so no transfer href accepts this token, and no header a transfer token */
const SCOPE_OID = 'git-lfs-authenticate';
export const REMOTE_AUTH_SCHEME = 'RemoteAuth';

export interface RemoteAuthHeader {
  /** `RemoteAuth <operation>:<repo path>:<token>` */
  authorization: string;
  expiresIn: number;
}

export class RemoteAuthTokens {
  constructor(
    private readonly tokens: TransferTokens,
    private readonly credentials: CredentialChecker,
  ) {}

  /** the header for `caller` on `repoPath` (canonical) and `operation`; access is the caller's to check */
  issue(caller: UserCaller, repoPath: string, operation: RemoteAuthOperation): RemoteAuthHeader {
    const { token, expiresIn } = this.tokens.grant({
      operation,
      repoPath,
      oid: SCOPE_OID,
      size: 0,
      credential: credentialRef(caller),
    });
    return { authorization: `${REMOTE_AUTH_SCHEME} ${operation}:${repoPath}:${token}`, expiresIn };
  }

  /**
   * The caller a header value (after the scheme) stands for, restricted to its repository and
   * operation; undefined when it is malformed, forged, expired, or its credential was revoked.
   */
  async authenticate(value: string): Promise<Caller | undefined> {
    const match = /^(upload|download):([^:\s]{1,600}):(\S{1,200})$/.exec(value.trim());
    if (!match) return undefined;
    const operation = match[1] as RemoteAuthOperation;
    const repoPath = match[2] as string;
    if (!isValidRepoPath(repoPath)) return undefined;
    const granted = this.tokens.verify(match[3] as string, { operation, repoPath, oid: SCOPE_OID });
    const credential = granted && parseCredentialRef(granted.credential);
    if (!credential) return undefined;
    const user = await this.credentials.liveUser(credential);
    if (!user) return undefined;
    return { kind: 'user', user, credential, restrict: { repoPath, operation } };
  }
}
