/**
 * Turns an `Authorization` header into a Caller (LFS-PROTOCOL.md section 5.1): HTTP Basic with a
 * user name and either the user's password or a personal access token (`Bearer <token>` is also
 * accepted). Missing credentials give the anonymous caller; wrong ones throw 401 so the client's
 * credential helper rejects them and asks again.
 */
import { createHash } from 'node:crypto';
import { lfsError } from '../errors.js';
import { hasControlCharacter } from '../text-checks.js';
import type { MetadataStore, User } from '../metadata/metadata-store.js';
import { MAX_USER_NAME_LENGTH } from '../metadata/schema.js';
import { hashAccessToken, looksLikeAccessToken } from './access-token.js';
import { ANONYMOUS, type Caller } from './caller.js';
import { verifyPassword } from './password-hash.js';

/**
 * scrypt costs tens of milliseconds by design; a client sends the same password on every request,
 * so a successful check is remembered briefly. The key includes the stored hash, so a password
 * change invalidates it at once, and only successes are cached.
 */
class VerifiedPasswordCache {
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  has(key: string): boolean {
    const expires = this.entries.get(key);
    if (expires === undefined) return false;
    if (expires > Date.now()) return true;
    this.entries.delete(key);
    return false;
  }

  add(key: string): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, Date.now() + this.ttlMs);
  }
}

/**
 * A name no user can have is refused before it reaches the database: PostgreSQL rejects a NUL in
 * a text parameter with an error, which would turn a wrong credential into a 500.
 */
function couldBeUserName(name: string): boolean {
  return name.length <= MAX_USER_NAME_LENGTH && !hasControlCharacter(name);
}

export class Authenticator {
  private readonly verified: VerifiedPasswordCache;

  constructor(
    private readonly metadata: MetadataStore,
    options: { passwordCacheMs?: number } = {},
  ) {
    this.verified = new VerifiedPasswordCache(options.passwordCacheMs ?? 30_000);
  }

  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (!authorization) return ANONYMOUS;
    const [scheme, value = ''] = authorization.trim().split(/\s+/, 2);
    switch (scheme?.toLowerCase()) {
      case 'basic': {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 0) throw lfsError('bad_credentials', 'Malformed Basic credentials');
        return this.check(decoded.slice(0, colon), decoded.slice(colon + 1));
      }
      case 'bearer':
        return this.check(undefined, value);
      default:
        throw lfsError('bad_credentials', `Unsupported authorization scheme ${scheme}`);
    }
  }

  private async check(name: string | undefined, secret: string): Promise<Caller> {
    if (looksLikeAccessToken(secret)) {
      // a secret shaped like a token is a token: an expired or revoked one must not cost a scrypt
      // password check on every retry (no user picks 48 characters of this exact shape)
      const user = await this.userForToken(secret);
      if (user) return { kind: 'user', user, via: 'token' };
      throw lfsError('bad_credentials', 'Token is unknown, expired or revoked');
    }
    if (name && couldBeUserName(name)) {
      const user = await this.userForPassword(name, secret);
      if (user) return { kind: 'user', user, via: 'password' };
    }
    throw lfsError('bad_credentials');
  }

  private async userForToken(secret: string): Promise<User | undefined> {
    const found = await this.metadata.findTokenBySecretHash(hashAccessToken(secret));
    if (!found || found.token.revokedAt) return undefined;
    if (found.token.expiresAt && found.token.expiresAt.getTime() <= Date.now()) return undefined;
    return found.user;
  }

  private async userForPassword(name: string, password: string): Promise<User | undefined> {
    const user = await this.metadata.findUserByName(name);
    if (!user?.passwordHash) return undefined;
    const key = createHash('sha256').update(user.passwordHash).update('\0').update(password).digest('base64');
    if (this.verified.has(key)) return user;
    if (!(await verifyPassword(password, user.passwordHash))) return undefined;
    this.verified.add(key);
    return user;
  }
}
