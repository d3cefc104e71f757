/**
 * Personal access tokens (auth/access-token.ts): created (the secret shown once, only its hash
 * stored), listed (never their secrets), revoked (effective at once, transfers included:
 * auth/credentials.ts). A user manages their own tokens, an admin anyone's; a caller signed in
 * with a token may create one only if that token has the `tokens` scope, and never with scopes
 * its own token lacks.
 */
import { generateAccessToken, hashAccessToken } from '../auth/access-token.js';
import { isTokenScope, type TokenScope } from '../auth/token-scopes.js';
import { lfsError } from '../errors.js';
import type { MetadataStore, TokenRecord } from '../metadata/metadata-store.js';
import { checkOptionalText, MAX_LABEL_LENGTH, RuleViolation } from '../rules.js';
import type { Actor } from './actor.js';
import type { UserService } from './user-service.js';

/** the longest expiry a token may be given (a Date beyond this is out of range anyway) */
const MAX_EXPIRY_MS = 100 * 365 * 24 * 3600 * 1000;

export type TokenState = 'active' | 'revoked' | 'expired';

export function tokenState(token: TokenRecord, now = new Date()): TokenState {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && token.expiresAt <= now) return 'expired';
  return 'active';
}

export class TokenService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly users: UserService,
  ) {}

  async create(
    actor: Actor,
    userName: string,
    input: { name?: string | null; expiresInMs?: number; scopes?: readonly string[] },
  ): Promise<{ token: string; record: TokenRecord }> {
    const user = await this.users.get(actor, userName);
    const scopes = [...new Set(input.scopes ?? [])];
    const unknown = scopes.find((scope) => !isTokenScope(scope));
    if (unknown !== undefined)
      throw new RuleViolation('scopes', `unknown token scope ${JSON.stringify(unknown)}`);
    requireTokenScopes(actor, ['tokens', ...(scopes as TokenScope[])]);
    const { expiresInMs } = input;
    if (
      expiresInMs !== undefined &&
      !(Number.isSafeInteger(expiresInMs) && expiresInMs > 0 && expiresInMs <= MAX_EXPIRY_MS)
    ) {
      // 0 would make a token dead on arrival
      throw new RuleViolation('expires in', 'a token expires after a positive duration of at most 100 years');
    }
    const token = generateAccessToken();
    const record = await this.metadata.createToken({
      userId: user.id,
      name: checkOptionalText('token name', input.name, MAX_LABEL_LENGTH),
      secretHash: hashAccessToken(token),
      expiresAt: expiresInMs === undefined ? null : new Date(Date.now() + expiresInMs),
      scopes,
    });
    return { token, record };
  }

  async list(actor: Actor, userName: string): Promise<TokenRecord[]> {
    const user = await this.users.get(actor, userName);
    return this.metadata.listTokens(user.id);
  }

  async revoke(actor: Actor, userName: string, tokenId: number): Promise<void> {
    const user = await this.users.get(actor, userName);
    if (!Number.isSafeInteger(tokenId) || !(await this.metadata.revokeToken(user.id, tokenId))) {
      throw lfsError('token_not_found', `user ${user.name} has no token ${tokenId}`);
    }
  }
}

/** 403 when the actor is signed in with a token that lacks one of `needed` */
function requireTokenScopes(actor: Actor, needed: readonly TokenScope[]): void {
  if (actor.kind !== 'user' || actor.credential.kind !== 'token') return;
  const missing = needed.find((scope) => !actor.tokenScopes?.includes(scope));
  if (missing !== undefined) {
    throw lfsError('forbidden', `This token cannot do that: it lacks the "${missing}" scope`);
  }
}
