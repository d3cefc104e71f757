/**
 * Short-lived tokens the server puts in transfer actions' `header` (DESIGN.md "Auth"), so that
 * transfers need no credential helper and a leaked href opens one object, in one repository, for
 * one operation, until it expires. Format: `<expiry unix s>.<size>.<HMAC-SHA256 base64url>` over
 * the operation, repository path, oid, size and expiry.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type TransferOperation = 'upload' | 'download' | 'verify';

export interface TransferScope {
  operation: TransferOperation;
  repoPath: string;
  oid: string;
  size: number;
}

export class TransferTokens {
  constructor(
    private readonly secret: string,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  get ttl(): number {
    return this.ttlSeconds;
  }

  issue(scope: TransferScope): string {
    const expiry = Math.floor(this.now() / 1000) + this.ttlSeconds;
    return `${expiry}.${scope.size}.${this.sign(scope, expiry)}`;
  }

  /** The size the token was issued for, or undefined when it is invalid, expired or for another scope. */
  verify(token: string, scope: Omit<TransferScope, 'size'>): { size: number } | undefined {
    const match = /^(\d{1,12})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return undefined;
    const expiry = Number(match[1]);
    const size = Number(match[2]);
    if (expiry * 1000 < this.now() || !Number.isSafeInteger(size)) return undefined;
    const expected = Buffer.from(this.sign({ ...scope, size }, expiry));
    const given = Buffer.from(match[3] as string);
    return given.length === expected.length && timingSafeEqual(given, expected) ? { size } : undefined;
  }

  private sign(scope: TransferScope, expiry: number): string {
    return createHmac('sha256', this.secret)
      .update(`${scope.operation}\n${scope.repoPath}\n${scope.oid}\n${scope.size}\n${expiry}`)
      .digest('base64url');
  }
}
