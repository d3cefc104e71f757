/**
 * The one module of rules on names and text that come from outside (DESIGN.md "Layers": rules):
 * repository paths, user names, oids, lock ids, and every free-text field that reaches the
 * database. The HTTP router, the CLI, the SSH commands, the admin API and the metadata store all
 * call these, so a name one way in accepts is a name every other way in accepts too.
 *
 * Violations throw `RuleViolation` (the HTTP layer answers 422, the CLI prints the message).
 */

/** A name or text field that breaks one of the rules below; `field` names what was wrong. */
export class RuleViolation extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'RuleViolation';
  }
}

// ---- text fields

// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * A free-text field (lock path, ref name, token label, ...) as every dialect can store it: a
 * string of at most `maxLength` characters, without C0 control characters or DEL (PostgreSQL
 * rejects a NUL), and well-formed UTF-16: a lone surrogate cannot be encoded as UTF-8, so SQLite
 * and MySQL would store U+FFFD in its place and two different strings would collide
 * (`q\ud800` and `q\ufffd`).
 */
export function checkText(field: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string') throw new RuleViolation(field, `${field} must be a string`);
  if (value.length > maxLength) {
    throw new RuleViolation(field, `${field} is longer than ${maxLength} characters`);
  }
  if (CONTROL_CHARACTER.test(value)) {
    throw new RuleViolation(field, `${field} must not contain control characters`);
  }
  if (!value.isWellFormed()) {
    throw new RuleViolation(field, `${field} must be valid Unicode (it contains a lone surrogate)`);
  }
  return value;
}

/** `checkText` for a field that may be absent: undefined, null and '' give null. */
export function checkOptionalText(field: string, value: unknown, maxLength: number): string | null {
  if (value === undefined || value === null || value === '') return null;
  return checkText(field, value, maxLength);
}

/** The longest lock path, in characters (what the metadata schema is sized for). */
export const MAX_LOCK_PATH_LENGTH = 1024;
/** The longest ref name recorded with a lock. */
export const MAX_REF_LENGTH = 1024;
/** The longest label of a token or a key. */
export const MAX_LABEL_LENGTH = 200;

/** A lock's file path: repository-relative, non-empty, as the client sent it (LFS-PROTOCOL.md 4.1). */
export function checkLockPath(path: unknown): string {
  const checked = checkText('path', path, MAX_LOCK_PATH_LENGTH);
  if (checked.length === 0) throw new RuleViolation('path', 'path must be a non-empty string');
  return checked;
}

export function isValidLockPath(path: unknown): path is string {
  try {
    checkLockPath(path);
    return true;
  } catch {
    return false;
  }
}

// ---- passwords

/** NIST SP 800-63B: at least 8 characters; the upper bound keeps hashing cheap to refuse. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/** A password a user chooses (never stored: only its hash is). */
export function checkNewPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw new RuleViolation('password', `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new RuleViolation('password', `password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  return password;
}

// ---- names: repository path segments and user names

/**
 * One segment of a repository path, and a user name (a user owns the namespace of that name:
 * `alice` owns `alice/*`, so every user name must be a segment the HTTP router can reach).
 * Letters, digits and `._-`, not starting with `.` or `-`, no `..`, not ending in `.git` (the
 * router strips that suffix), at most 100 characters.
 */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;

function isValidSegment(segment: string): boolean {
  return SEGMENT.test(segment) && !segment.includes('..') && !segment.endsWith('.git');
}

/**
 * First path segments the HTTP surface keeps for itself, so no repository and no user (who owns
 * the namespace of their name) can take them: `/api/v1/...` is the admin API (web/). The web
 * console's other pages live under `/-/`, which no segment can be anyway.
 */
export const RESERVED_NAMESPACES: readonly string[] = ['api'];

function isReservedNamespace(segment: string): boolean {
  return RESERVED_NAMESPACES.includes(segment.toLowerCase());
}

export const MAX_USER_NAME_LENGTH = 100;

export function isValidUserName(name: unknown): name is string {
  return typeof name === 'string' && isValidSegment(name) && !isReservedNamespace(name);
}

export function checkUserName(name: unknown): string {
  if (!isValidUserName(name)) {
    throw new RuleViolation(
      'user name',
      `invalid user name ${JSON.stringify(name)}: up to ${MAX_USER_NAME_LENGTH} letters, digits, '.', '_' or '-', ` +
        "not starting with '.' or '-', without '..', not ending in .git, " +
        `and not ${RESERVED_NAMESPACES.join(', ')}`,
    );
  }
  return name;
}

/** Repository paths have 1 to MAX_REPO_DEPTH segments (`alice/assets`, `org/team/assets`). */
export const MAX_REPO_DEPTH = 8;
/** ...and at most this many characters (the unique index MySQL can hold). */
export const MAX_REPO_PATH_LENGTH = 512;

/**
 * The canonical repository path of `segments` (already percent-decoded), with a `.git` suffix on
 * the last one removed; undefined when they do not make a valid path.
 */
export function repoPathOf(segments: readonly string[]): string | undefined {
  const last = segments.at(-1);
  const names = last?.endsWith('.git') ? [...segments.slice(0, -1), last.slice(0, -'.git'.length)] : segments;
  if (names.length === 0 || names.length > MAX_REPO_DEPTH || !names.every(isValidSegment)) return undefined;
  if (isReservedNamespace(names[0] as string)) return undefined;
  const path = names.join('/');
  return path.length <= MAX_REPO_PATH_LENGTH ? path : undefined;
}

/**
 * A repository path as a person or a client writes it: `alice/assets`, `/alice/assets.git`
 * (SSH remotes), `alice/assets/`; returns the canonical `alice/assets`.
 */
export function parseRepoPath(input: unknown): string {
  const path = typeof input === 'string' ? repoPathOf(input.replace(/^\/+|\/+$/g, '').split('/')) : undefined;
  if (path === undefined) {
    throw new RuleViolation(
      'repository path',
      `invalid repository path ${JSON.stringify(input)}: 1 to ${MAX_REPO_DEPTH} segments like alice/assets, ` +
        `each of letters, digits, '.', '_' or '-' (not starting with '.' or '-', no '..'), ` +
        `at most ${MAX_REPO_PATH_LENGTH} characters in all, not under ${RESERVED_NAMESPACES.join(', ')}/`,
    );
  }
  return path;
}

/** Whether `path` is a repository path in canonical form (what the metadata stores). */
export function isValidRepoPath(path: unknown): path is string {
  return typeof path === 'string' && repoPathOf(path.split('/')) === path;
}

/** The namespace a repository path belongs to: its first segment, owned by the user of that name. */
export function namespaceOf(repoPath: string): string {
  return repoPath.split('/')[0] as string;
}

// ---- oids and lock ids

const LOWERCASE_HEX = /^[0-9a-f]+$/;

/**
 * `^[0-9a-f]{64}$`: the only oids lfsd accepts (LFS-PROTOCOL.md section 7); protects storage
 * paths. The length is tested first: twice as fast as the one regular expression.
 */
export function isValidOid(oid: unknown): oid is string {
  return typeof oid === 'string' && oid.length === 64 && LOWERCASE_HEX.test(oid);
}

/** An object size: a safe integer >= 0. */
export function isValidSize(size: unknown): size is number {
  return typeof size === 'number' && Number.isSafeInteger(size) && size >= 0;
}

/**
 * Lock ids are the decimal form of an increasing database key: URL-safe (the client puts them raw
 * into `/locks/{id}/unlock`), and their order is the list order.
 */
export function isValidLockId(id: unknown): id is string {
  return typeof id === 'string' && /^[1-9][0-9]{0,15}$/.test(id) && Number.isSafeInteger(Number(id));
}
