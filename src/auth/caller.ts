import type { User } from '../metadata/metadata-store.js';

/**
 * What proved a caller's identity, so that what it granted can be withdrawn with it
 * (credentials.ts): a password (valid while the user's authGeneration is unchanged), a personal
 * access token, an SSH key, a console session. `id` identifies the credential within its kind.
 */
export type CredentialKind = 'password' | 'token' | 'ssh-key' | 'session';

export interface Credential {
  kind: CredentialKind;
  id: string;
}

/** Who is calling: nobody, or a user proven by one credential. */
export type Caller =
  | { kind: 'anonymous' }
  | {
      kind: 'user';
      user: User;
      credential: Credential;
      /** a personal access token's extra scopes (auth/token-scopes.ts); absent for other credentials */
      tokenScopes?: readonly string[];
      /**
       * A credential good for one repository and operation only (the header `git-lfs-authenticate`
       * hands out over SSH): access elsewhere is none, and at most read for a download.
       */
      restrict?: { repoPath: string; operation: 'upload' | 'download' };
    };

export type UserCaller = Extract<Caller, { kind: 'user' }>;

export const ANONYMOUS: Caller = Object.freeze({ kind: 'anonymous' });

export function callerName(caller: Caller): string | undefined {
  return caller.kind === 'user' ? caller.user.name : undefined;
}

/** The password credential of `user` as of now (its authGeneration). */
export function passwordCredential(user: User): Credential {
  return { kind: 'password', id: `${user.id}-${user.authGeneration}` };
}
