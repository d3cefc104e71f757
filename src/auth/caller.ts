import type { User } from '../metadata/metadata-store.js';

/** Who is calling: nobody, or a user proven by password or personal access token. */
export type Caller = { kind: 'anonymous' } | { kind: 'user'; user: User; via: 'password' | 'token' };

export const ANONYMOUS: Caller = Object.freeze({ kind: 'anonymous' });

export function callerName(caller: Caller): string | undefined {
  return caller.kind === 'user' ? caller.user.name : undefined;
}
