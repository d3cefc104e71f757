/**
 * Short-lived tokens the server puts in transfer actions' `header` (DESIGN.md "Auth"), so that
 * transfers need no credential helper and a leaked href opens one object, in one repository, for
 * one operation, until it expires or the credential that was shown for it is revoked. Format:
 * `<expiry unix s>.<size>.<credential ref>.<HMAC-SHA256 base64url>` over the operation, repository
 * path, oid, size, credential reference (credentials.ts) and expiry. The signature proves what the
 * token grants; CredentialChecker decides, when it is used, whether the credential still stands.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { MIN_SIGNING_KEY_BYTES } from './signing-key.js';

export type TransferOperation = 'upload' | 'download' | 'verify';

export interface TransferScope {
  operation: TransferOperation;
  repoPath: string;
  oid: string;
  size: number;
  /** the credential that authenticated the batch request (credentials.ts credentialRef) */
  credential: string;
}

export interface IssuedToken {
  token: string;
  /** whole seconds the token stays valid from now: at least the configured TTL */
  expiresIn: number;
}

/** at most this many tokens remembered for the current expiry step */
const MAX_REMEMBERED = 50_000;

export class TransferTokens {
  /**
   * Expiries are rounded up to a step of 1/60 of the TTL (one minute for the default hour), so a
   * token lives between the TTL and 1.7% longer. Within one step the token for a scope is always
   * the same string, so tokens are remembered: clients fetching the same objects (CI jobs cloning
   * one repository) cost one HMAC per object per step instead of one per batch entry, which was
   * the largest cost of planning a batch.
   */
  private readonly stepSeconds: number;
  /**
   * tokens of the current step: (operation, repository, credential) -> oid -> size and token.
   * Keyed by the oid string itself rather than by the whole signed text: building a 200-character
   * key per object cost about as much as the rest of remembering (a 100-object batch asks 100)
   */
  private tokens = new Map<string, Map<string, { size: number; token: string }>>();
  private tokensExpiry = 0;
  private remembered = 0;

  constructor(
    private readonly secret: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    // the settings refuse a short key at start (auth/signing-key.ts); this keeps any other caller
    // from signing with an empty or truncated one, which anyone could forge
    if (Buffer.byteLength(secret) < MIN_SIGNING_KEY_BYTES) {
      throw new Error(`a transfer token key needs at least ${MIN_SIGNING_KEY_BYTES} bytes`);
    }
    this.stepSeconds = Math.max(1, Math.floor(ttlSeconds / 60));
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  issue(scope: TransferScope): string {
    return this.grant(scope).token;
  }

  grant(scope: TransferScope): IssuedToken {
    const nowSeconds = this.now() / 1000;
    const step = this.stepSeconds;
    const expiry = Math.ceil((nowSeconds + this.ttlSeconds) / step) * step;
    return { token: this.rememberedToken(scope, expiry), expiresIn: Math.floor(expiry - nowSeconds) };
  }

  /**
   * The size and credential reference the token was issued with, or undefined when it is invalid,
   * expired or for another scope.
   */
  verify(
    token: string,
    scope: Omit<TransferScope, 'size' | 'credential'>,
  ): { size: number; credential: string } | undefined {
    const match = /^(\d{1,12})\.(\d{1,16})\.([a-z][0-9-]{0,33})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return undefined;
    const expiry = Number(match[1]);
    const size = Number(match[2]);
    const credential = match[3] as string;
    if (expiry * 1000 < this.now() || !Number.isSafeInteger(size)) return undefined;
    // a token this process issued for this very scope in the current step needs no new HMAC:
    // the same string is the same signature (a transfer right after its batch, the usual case)
    const issued =
      expiry === this.tokensExpiry
        ? this.tokens.get(groupOf({ ...scope, credential }))?.get(scope.oid)
        : undefined;
    if (issued && issued.size === size && sameText(issued.token, token)) return { size, credential };
    const expected = this.sign(signedText({ ...scope, size, credential }, expiry));
    return sameText(match[4] as string, expected) ? { size, credential } : undefined;
  }

  private rememberedToken(scope: TransferScope, expiry: number): string {
    if (expiry !== this.tokensExpiry || this.remembered >= MAX_REMEMBERED) {
      // a new step makes every remembered token useless: forget them all at once
      this.tokens = new Map();
      this.tokensExpiry = expiry;
      this.remembered = 0;
    }
    const group = groupOf(scope);
    let byOid = this.tokens.get(group);
    if (!byOid) {
      byOid = new Map();
      this.tokens.set(group, byOid);
    }
    const known = byOid.get(scope.oid);
    if (known?.size === scope.size) return known.token;
    const token = `${expiry}.${scope.size}.${scope.credential}.${this.sign(signedText(scope, expiry))}`;
    if (!known) this.remembered++;
    byOid.set(scope.oid, { size: scope.size, token });
    return token;
  }

  private sign(text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('base64url');
  }
}

function signedText(scope: TransferScope, expiry: number): string {
  return `${scope.operation}\n${scope.repoPath}\n${scope.oid}\n${scope.size}\n${scope.credential}\n${expiry}`;
}

/** the key of the tokens remembered for one operation, repository and credential */
function groupOf(scope: Pick<TransferScope, 'operation' | 'repoPath' | 'credential'>): string {
  return `${scope.operation}\n${scope.repoPath}\n${scope.credential}`;
}

/** compares in constant time, as a signature must be */
function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
