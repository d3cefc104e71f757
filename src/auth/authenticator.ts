/**
 * Turns an `Authorization` header into a Caller (LFS-PROTOCOL.md section 5.1): HTTP Basic with a
 * user name and either the user's password or a personal access token (`Bearer <token>` is also
 * accepted). Missing credentials give the anonymous caller; wrong ones throw 401 so the client's
 * credential helper rejects them and asks again.
 */
import { createHash } from 'node:crypto';
import { lfsError } from '../errors.js';
import type { MetadataStore, TokenRecord, User } from '../metadata/metadata-store.js';
import { isValidUserName } from '../rules.js';
import { hashAccessToken, looksLikeAccessToken } from './access-token.js';
import { ANONYMOUS, passwordCredential, type Caller } from './caller.js';
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
      const found = await this.liveToken(secret);
      if (found) {
        const { token, user } = found;
        return {
          kind: 'user',
          user,
          credential: { kind: 'token', id: String(token.id) },
          tokenScopes: token.scopes ?? [],
        };
      }
      throw lfsError('bad_credentials', 'Token is unknown, expired or revoked');
    }
    // a name no user can have never reaches the database (PostgreSQL rejects a NUL with an error)
    if (isValidUserName(name)) {
      const user = await this.userForPassword(name, secret);
      if (user) return { kind: 'user', user, credential: passwordCredential(user) };
    }
    throw lfsError('bad_credentials');
  }

  private async liveToken(secret: string): Promise<{ token: TokenRecord; user: User } | undefined> {
    const found = await this.metadata.findTokenBySecretHash(hashAccessToken(secret));
    if (!found || found.token.revokedAt || found.user.disabled) return undefined;
    if (found.token.expiresAt && found.token.expiresAt.getTime() <= Date.now()) return undefined;
    return found;
  }

  private async userForPassword(name: string, password: string): Promise<User | undefined> {
    const user = await this.metadata.findUserByName(name);
    if (!user?.passwordHash || user.disabled) return undefined;
    const key = createHash('sha256').update(user.passwordHash).update('\0').update(password).digest('base64');
    if (this.verified.has(key)) return user;
    if (!(await verifyPassword(password, user.passwordHash))) return undefined;
    this.verified.add(key);
    return user;
  }
}
