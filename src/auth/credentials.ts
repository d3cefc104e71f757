/**
 * Revocation (issue 11, DESIGN.md "Auth"): what a credential granted stops working as soon as the
 * credential does. Transfer tokens carry a reference to the credential that authenticated the batch
 * request (`credentialRef`); before a transfer runs, CredentialChecker asks whether that credential
 * is still live (token not revoked or expired, password unchanged, key not removed, session open,
 * user neither disabled nor removed) and whether its user may still do the transfer in that
 * repository (grant, namespace, public flag). The answer is cached per replica for
 * REVOCATION_CACHE_MS, which bounds how long a revoked credential keeps working.
 *
 * Each kind of credential (password, token, SSH key, console session) has a resolver here.
 */
import type { MetadataStore, Permission, User } from '../metadata/metadata-store.js';
import { accessFor, allows } from './access.js';
import { ANONYMOUS, type Caller, type Credential, type CredentialKind } from './caller.js';

/** the longest a revoked credential's transfer tokens keep working on a replica */
export const REVOCATION_CACHE_MS = 2000;
/** cached answers kept at most (cleared all at once when full) */
const MAX_CACHED = 20_000;

/** The user a credential of one kind still stands for, or undefined when it is revoked. */
export type CredentialResolver = (id: string) => Promise<User | undefined>;

const KIND_LETTERS: Record<CredentialKind, string> = {
  password: 'p',
  token: 't',
  'ssh-key': 'k',
  session: 's',
};
const KINDS_BY_LETTER = new Map(Object.entries(KIND_LETTERS).map(([kind, letter]) => [letter, kind]));
/** what a credential id may contain: ids and generations are decimal, joined by '-' */
const CREDENTIAL_ID = /^[0-9]{1,16}(-[0-9]{1,16})?$/;
const ANONYMOUS_REF = 'a';

/** A short reference to the caller's credential, safe inside a transfer token: `a`, `p12-3`, `t7`. */
export function credentialRef(caller: Caller): string {
  if (caller.kind === 'anonymous') return ANONYMOUS_REF;
  return KIND_LETTERS[caller.credential.kind] + caller.credential.id;
}

/** The credential a reference names (null for the anonymous caller); undefined when malformed. */
export function parseCredentialRef(ref: string): Credential | null | undefined {
  if (ref === ANONYMOUS_REF) return null;
  const kind = KINDS_BY_LETTER.get(ref.charAt(0)) as CredentialKind | undefined;
  const id = ref.slice(1);
  return kind && CREDENTIAL_ID.test(id) ? { kind, id } : undefined;
}

export class CredentialChecker {
  private readonly resolvers = new Map<CredentialKind, CredentialResolver>();
  private cache = new Map<string, { allowed: boolean; expires: number }>();

  constructor(
    private readonly metadata: MetadataStore,
    private readonly cacheMs = REVOCATION_CACHE_MS,
  ) {
    this.register('password', async (id) => {
      const [userId, generation] = id.split('-').map(Number);
      const user = await metadata.findUserById(userId as number);
      return user && !user.disabled && user.authGeneration === generation ? user : undefined;
    });
    this.register('token', async (id) => {
      const found = await metadata.findTokenById(Number(id));
      if (!found || found.token.revokedAt || found.user.disabled) return undefined;
      if (found.token.expiresAt && found.token.expiresAt.getTime() <= Date.now()) return undefined;
      return found.user;
    });
    // an SSH key stands while it exists (removing the user removes their keys)
    this.register('ssh-key', async (id) => (await metadata.findSshKeyById(Number(id)))?.user);
    // console sessions (web/session-service.ts): live until signed out or expired, and only while
    // the user's authGeneration is the one the session began under (password change, disabling)
    this.register('session', async (id) => {
      const found = await metadata.findWebSession({ id: Number(id) });
      if (!found || found.session.expiresAt.getTime() <= Date.now()) return undefined;
      return found.user.authGeneration === found.session.authGeneration ? found.user : undefined;
    });
  }

  register(kind: CredentialKind, resolver: CredentialResolver): void {
    this.resolvers.set(kind, resolver);
  }

  /** The user behind a live credential; undefined when it was revoked (or no resolver knows it). */
  async liveUser(credential: Credential): Promise<User | undefined> {
    const user = await this.resolvers.get(credential.kind)?.(credential.id);
    return user && !user.disabled ? user : undefined;
  }

  /**
   * Whether the credential `ref` names is still live and its user (or the anonymous caller) may
   * still `need` on `repoPath`. Cached for `cacheMs`.
   */
  async stillAllows(ref: string, repoPath: string, need: Permission): Promise<boolean> {
    const key = `${ref}\n${repoPath}\n${need}`;
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.expires > now) return cached.allowed;
    const allowed = await this.check(ref, repoPath, need);
    if (this.cacheMs > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache = new Map();
      this.cache.set(key, { allowed, expires: now + this.cacheMs });
    }
    return allowed;
  }

  private async check(ref: string, repoPath: string, need: Permission): Promise<boolean> {
    const credential = parseCredentialRef(ref);
    if (credential === undefined) return false;
    let caller: Caller = ANONYMOUS;
    if (credential) {
      const user = await this.liveUser(credential);
      if (!user) return false;
      caller = { kind: 'user', user, credential };
    }
    const repo = await this.metadata.findRepo(repoPath);
    if (!repo) return false;
    return allows(await accessFor(this.metadata, caller, repoPath, repo), need);
  }
}
