/**
 * Checks on text from clients shared by several layers (user names in credentials, lock paths).
 */

// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** C0 control characters and DEL: never valid in names or paths, and PostgreSQL rejects a NUL */
export function hasControlCharacter(text: string): boolean {
  return CONTROL_CHARACTER.test(text);
}
