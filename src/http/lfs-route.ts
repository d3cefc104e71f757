/**
 * Parses request paths of the LFS surface (DESIGN.md "HTTP surface"):
 *   /{repo-path}[.git][/info/lfs]/objects/batch
 *   /{repo-path}[.git][/info/lfs]/objects/{oid}            transfer (PUT, GET)
 *   /{repo-path}[.git][/info/lfs]/objects/{oid}/verify
 *   /{repo-path}[.git][/info/lfs]/locks
 *   /{repo-path}[.git][/info/lfs]/locks/verify
 *   /{repo-path}[.git][/info/lfs]/locks/{id}/unlock
 * `{repo-path}` is one or more segments. The suffix is matched from the end, so a repository may
 * itself be called `objects` or `locks`. The repository path follows the one rule of rules.ts
 * (repoPathOf), so no `..`, empty or odd segment ever reaches the layers below.
 */
import { isValidLockId, isValidOid, repoPathOf } from '../rules.js';

export type LfsEndpoint =
  | { kind: 'batch' }
  | { kind: 'object'; oid: string }
  | { kind: 'verify'; oid: string }
  | { kind: 'locks' }
  | { kind: 'locks-verify' }
  | { kind: 'unlock'; lockId: string };

export interface LfsRoute {
  repoPath: string;
  endpoint: LfsEndpoint;
}

/** The route for `pathname` (no query string), `undefined` for anything else. */
export function parseLfsRoute(pathname: string): LfsRoute | undefined {
  let segments: string[];
  try {
    segments = pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const matched = matchSuffix(segments);
  if (!matched) return undefined;
  let repoSegments = segments.slice(0, segments.length - matched.length);
  if (repoSegments.at(-2) === 'info' && repoSegments.at(-1) === 'lfs')
    repoSegments = repoSegments.slice(0, -2);
  const repoPath = repoPathOf(repoSegments);
  return repoPath === undefined ? undefined : { repoPath, endpoint: matched.endpoint };
}

function matchSuffix(segments: string[]): { length: number; endpoint: LfsEndpoint } | undefined {
  const [a, b, c] = segments.slice(-3);
  const [y, z] = segments.slice(-2);
  if (y === 'objects' && z === 'batch') return { length: 2, endpoint: { kind: 'batch' } };
  if (y === 'objects' && isValidOid(z)) return { length: 2, endpoint: { kind: 'object', oid: z } };
  if (a === 'objects' && isValidOid(b) && c === 'verify')
    return { length: 3, endpoint: { kind: 'verify', oid: b } };
  if (y === 'locks' && z === 'verify') return { length: 2, endpoint: { kind: 'locks-verify' } };
  if (a === 'locks' && c === 'unlock' && isValidLockId(b)) {
    return { length: 3, endpoint: { kind: 'unlock', lockId: b } };
  }
  if (z === 'locks') return { length: 1, endpoint: { kind: 'locks' } };
  return undefined;
}
