/**
 * Personal access tokens: 256 random bits, shown once, stored only as their SHA-256 (a fast hash
 * is enough for a secret with that much entropy, and lets the lookup be one indexed query).
 */
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'lfsd_';

export function generateAccessToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function looksLikeAccessToken(secret: string): boolean {
  return secret.startsWith(TOKEN_PREFIX) && secret.length === TOKEN_PREFIX.length + 43;
}

export function hashAccessToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
