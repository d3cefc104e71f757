/**
 * JSON Schemas of the admin API's requests and answers (api-routes.ts), also published in the
 * OpenAPI document. Requests: objects reject unknown fields (`additionalProperties: false`) and
 * nothing is coerced (the app's validator runs with `coerceTypes: false`), so `"true"` is not a
 * boolean and `{"admin": 1}` is refused. Answers: only the listed fields are sent.
 */
import { TOKEN_SCOPES } from '../auth/token-scopes.js';
import { PERMISSIONS } from '../admin/grant-service.js';
import {
  MAX_LABEL_LENGTH,
  MAX_PASSWORD_LENGTH,
  MAX_REPO_PATH_LENGTH,
  MAX_USER_NAME_LENGTH,
} from '../rules.js';

export type JsonSchema = Record<string, unknown>;

export function object(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return { type: 'object', additionalProperties: false, properties, required };
}

const string = (extra: JsonSchema = {}): JsonSchema => ({ type: 'string', ...extra });
const nullable = (schema: JsonSchema): JsonSchema => ({ ...schema, type: [schema.type as string, 'null'] });
const integer = { type: 'integer' };
const boolean = { type: 'boolean' };
const dateTime = string({ format: 'date-time' });
const array = (items: JsonSchema): JsonSchema => ({ type: 'array', items });

// ---- values

/** a repository path, URL-encoded as one path segment (`alice%2Fassets`); rules.ts checks it */
export const repoPathParam = string({ minLength: 1, maxLength: MAX_REPO_PATH_LENGTH + 8 });
export const userNameParam = string({ minLength: 1, maxLength: MAX_USER_NAME_LENGTH });
export const idParam = string({ pattern: '^[1-9][0-9]{0,15}$' });
const password = string({ maxLength: MAX_PASSWORD_LENGTH });
const permission = { type: 'string', enum: [...PERMISSIONS] };
const access = { type: 'string', enum: ['none', ...PERMISSIONS] };

// ---- answers

export const repoJson = object(
  {
    path: string(),
    public: boolean,
    access,
    objects: integer,
    bytes: integer,
    locks: integer,
    /** the repository's storage quota in bytes (lifecycle), null: none */
    quota_bytes: nullable(integer),
    created_at: dateTime,
  },
  ['path', 'public', 'access', 'objects', 'bytes', 'locks', 'quota_bytes', 'created_at'],
);

export const userJson = object(
  {
    name: string(),
    admin: boolean,
    disabled: boolean,
    has_password: boolean,
    created_at: dateTime,
  },
  ['name', 'admin', 'disabled', 'has_password', 'created_at'],
);

export const tokenJson = object(
  {
    id: integer,
    name: nullable(string()),
    state: { type: 'string', enum: ['active', 'revoked', 'expired'] },
    scopes: array(string()),
    created_at: dateTime,
    expires_at: nullable(dateTime),
    revoked_at: nullable(dateTime),
  },
  ['id', 'name', 'state', 'scopes', 'created_at', 'expires_at', 'revoked_at'],
);

export const newTokenJson = object(
  { ...(tokenJson.properties as Record<string, JsonSchema>), token: string() },
  [...(tokenJson.required as string[]), 'token'],
);

export const sshKeyJson = object(
  {
    id: integer,
    type: string(),
    fingerprint: string(),
    label: nullable(string()),
    created_at: dateTime,
    last_used_at: nullable(dateTime),
  },
  ['id', 'type', 'fingerprint', 'label', 'created_at', 'last_used_at'],
);

export const grantJson = object({ user: string(), repo: string(), permission }, [
  'user',
  'repo',
  'permission',
]);

export const lockJson = object(
  { id: string(), path: string(), locked_at: dateTime, owner: object({ name: string() }, ['name']) },
  ['id', 'path', 'locked_at', 'owner'],
);

export const meJson = object(
  {
    name: string(),
    admin: boolean,
    credential: { type: 'string', enum: ['password', 'token', 'ssh-key', 'session'] },
  },
  ['name', 'admin', 'credential'],
);

export const errorJson = object({ message: string(), code: string(), request_id: string() }, [
  'message',
  'request_id',
]);

// ---- requests

export const createRepoBody = object(
  { path: string({ minLength: 1, maxLength: MAX_REPO_PATH_LENGTH }), public: boolean },
  ['path'],
);
export const updateRepoBody = object({ public: boolean }, ['public']);
export const lockListQuery = object({
  cursor: string({ maxLength: 64 }),
  limit: string({ pattern: '^[0-9]{1,10}$' }),
});
export const setGrantBody = object({ permission }, ['permission']);
export const createTokenBody = object({
  name: nullable(string({ maxLength: MAX_LABEL_LENGTH })),
  /** days until the token stops working; absent: never */
  expires_in_days: { type: 'integer', minimum: 1, maximum: 36_500 },
  scopes: { type: 'array', items: { type: 'string', enum: [...TOKEN_SCOPES] }, maxItems: 8 },
});
export const addSshKeyBody = object(
  {
    /** one `authorized_keys`-style line: `ssh-ed25519 AAAA... comment` */
    key: string({ minLength: 1, maxLength: 16 * 1024 }),
    label: nullable(string({ maxLength: MAX_LABEL_LENGTH })),
  },
  ['key'],
);
export const createUserBody = object(
  { name: string({ minLength: 1, maxLength: MAX_USER_NAME_LENGTH }), password, admin: boolean },
  ['name'],
);
export const updateUserBody = {
  ...object({ password: nullable(password), disabled: boolean, admin: boolean }),
  minProperties: 1,
};
