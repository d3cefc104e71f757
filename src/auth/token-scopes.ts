/**
 * What a personal access token may do. Every token may use the LFS API and the admin API as its
 * user; the scopes below add what a leaked token must not do by default.
 * - `tokens`: create further tokens (a token without it cannot mint itself a successor).
 */
export const TOKEN_SCOPES = ['tokens'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export function isTokenScope(value: unknown): value is TokenScope {
  return (TOKEN_SCOPES as readonly unknown[]).includes(value);
}
