/**
 * Turns an `Authorization` header into a Caller (LFS-PROTOCOL.md section 5.1): HTTP Basic with a
 * user name and either the user's password or a personal access token (`Bearer <token>` is also
 * accepted). Missing credentials give the anonymous caller; wrong ones throw 401 so the client's
 * credential helper rejects them and asks again; too many wrong ones throw 429 (sign-in-limits.ts).
 *
 * This is the one place a password is checked, for every way in (the LFS API, the admin API, the
 * web console's sign-in form through `signInWithPassword`).
 *
 * Every password sign-in that fails costs the same (issue 11 item 3): an unknown user, a disabled
 * one and one without a password are checked against a dummy hash of the same cost as a real
 * one, so the time of the answer does not tell which names exist. Successful checks are not
 * cached: a cache that answers faster than the hash would let whoever reads this process's memory
 * test passwords faster than the hash allows; tokens are the fast path for busy clients.
 */
import { lfsError } from '../errors.js';
import type { MetadataStore, TokenRecord, User } from '../metadata/metadata-store.js';
import { isValidUserName } from '../rules.js';
import { hashAccessToken, looksLikeAccessToken } from './access-token.js';
import { ANONYMOUS, passwordCredential, type Caller } from './caller.js';
import { hashPassword, needsRehash, verifyDummy, verifyPassword } from './password-hash.js';
import { SignInLimits } from './sign-in-limits.js';

export interface SignInRequest {
  /** the request's `Authorization` header */
  authorization: string | undefined;
  /** the client's address (limits/client-address.ts); sign-ins are limited per address too */
  address?: string | undefined;
}

export type SignInMethod = 'password' | 'token';
/** ok; failed (401); limited (429, nothing verified) */
export type SignInOutcome = 'ok' | 'failed' | 'limited';

export interface AuthenticatorOptions {
  /** failed sign-in limits; default SignInLimits' defaults */
  limits?: SignInLimits;
  /** told of every sign-in attempt (metrics) */
  onSignIn?: (method: SignInMethod, outcome: SignInOutcome) => void;
  /** told of every password hash computed to check a sign-in (a real user's or the dummy) */
  onPasswordCheck?: () => void;
  /** checks `RemoteAuth` headers (the credential `git-lfs-authenticate` hands out: remote-auth.ts) */
  remoteAuth?: { authenticate(value: string): Promise<Caller | undefined> };
}

export class Authenticator {
  private readonly limits: SignInLimits;
  private readonly onSignIn: (method: SignInMethod, outcome: SignInOutcome) => void;
  private readonly onPasswordCheck: () => void;
  private readonly remoteAuth: AuthenticatorOptions['remoteAuth'];

  constructor(
    private readonly metadata: MetadataStore,
    options: AuthenticatorOptions = {},
  ) {
    this.limits = options.limits ?? new SignInLimits();
    this.onSignIn = options.onSignIn ?? (() => {});
    this.onPasswordCheck = options.onPasswordCheck ?? (() => {});
    this.remoteAuth = options.remoteAuth;
  }

  async authenticate({ authorization, address }: SignInRequest): Promise<Caller> {
    if (!authorization) return ANONYMOUS;
    const [scheme, value = ''] = authorization.trim().split(/\s+/, 2);
    switch (scheme?.toLowerCase()) {
      case 'basic': {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 0) throw lfsError('bad_credentials', 'Malformed Basic credentials');
        const name = decoded.slice(0, colon);
        const secret = decoded.slice(colon + 1);
        // a secret shaped like a token is a token (no user picks 48 characters of this exact
        // shape): an expired or revoked one must not cost a password check on every retry
        if (looksLikeAccessToken(secret)) return this.signInWithToken(secret, address);
        return this.signInWithPassword({ name, password: secret, address });
      }
      case 'bearer':
        return this.signInWithToken(value, address);
      case 'remoteauth': {
        const caller = await this.remoteAuth?.authenticate(value);
        if (caller) return caller;
        return this.failWithoutCheck(
          'token',
          address,
          'SSH authorization expired or revoked: run the command again',
        );
      }
      default:
        throw lfsError('bad_credentials', `Unsupported authorization scheme ${scheme}`);
    }
  }

  /**
   * A user name and password, from a Basic header or a sign-in form. 401 when wrong, 429 when
   * the name or the address has failed too often (then nothing is looked up or verified).
   */
  async signInWithPassword(input: {
    name: string;
    password: string;
    address?: string | undefined;
  }): Promise<Caller> {
    const { name, password, address } = input;
    // a name no user can have never reaches the database (PostgreSQL rejects a NUL with an error)
    if (!isValidUserName(name)) return this.failWithoutCheck('password', address);
    let attempt;
    try {
      attempt = await this.limits.begin(name, address);
    } catch (err) {
      this.onSignIn('password', 'limited');
      throw err;
    }
    let ok = false;
    let user: User | undefined;
    try {
      user = await this.metadata.findUserByName(name);
      this.onPasswordCheck();
      ok =
        user?.passwordHash && !user.disabled
          ? await verifyPassword(password, user.passwordHash)
          : await verifyDummy(password);
    } finally {
      if (ok) attempt.succeeded();
      else await attempt.failed();
    }
    if (!ok || !user?.passwordHash) {
      this.onSignIn('password', 'failed');
      throw lfsError('bad_credentials');
    }
    if (needsRehash(user.passwordHash)) await this.upgradeHash(user, user.passwordHash, password);
    this.onSignIn('password', 'ok');
    return { kind: 'user', user, credential: passwordCredential(user) };
  }

  private async signInWithToken(secret: string, address: string | undefined): Promise<Caller> {
    const found = looksLikeAccessToken(secret) ? await this.liveToken(secret) : undefined;
    if (!found) return this.failWithoutCheck('token', address, 'Token is unknown, expired or revoked');
    const { token, user } = found;
    this.onSignIn('token', 'ok');
    return {
      kind: 'user',
      user,
      credential: { kind: 'token', id: String(token.id) },
      tokenScopes: token.scopes ?? [],
    };
  }

  private async failWithoutCheck(
    method: SignInMethod,
    address: string | undefined,
    message?: string,
  ): Promise<never> {
    try {
      await this.limits.failedWithoutCheck(address);
    } catch (err) {
      this.onSignIn(method, 'limited');
      throw err;
    }
    this.onSignIn(method, 'failed');
    throw lfsError('bad_credentials', message);
  }

  private async liveToken(secret: string): Promise<{ token: TokenRecord; user: User } | undefined> {
    const found = await this.metadata.findTokenBySecretHash(hashAccessToken(secret));
    if (!found || found.token.revokedAt || found.user.disabled) return undefined;
    if (found.token.expiresAt && found.token.expiresAt.getTime() <= Date.now()) return undefined;
    return found;
  }

  /**
   * Replaces a hash with older parameters (scrypt, or argon2 with other costs) now that the
   * password is known. Only if it is still the hash that was checked (a concurrent password change
   * wins); the user's authGeneration is unchanged, so nothing granted under the password ends.
   */
  private async upgradeHash(user: User, oldHash: string, password: string): Promise<void> {
    try {
      await this.metadata.upgradePasswordHash(user.id, oldHash, await hashPassword(password));
    } catch {
      // the sign-in stands; the next one tries again
    }
  }
}
