/**
 * A connection URL with its secrets masked, for `lfsd config print`, the start-up log and error
 * messages. Masked through the URL parser, so every form the drivers accept is covered: a
 * password with or without a user name (`postgres://:pw@h/db`), URL-encoded, and credentials in
 * the query (`?password=`, `?sslpassword=`, any parameter named like a secret). Input the parser
 * cannot read is masked whole past its scheme: when in doubt, show less.
 */
const SECRET_PARAMETER = /pass|pwd|secret|token|key|auth|credential/i;
const MASK = '***';

export function maskUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return maskUnparseable(value);
  }
  // no authority (`scheme:opaque`): nothing says where a secret would be, so show none of it
  if (url.host === '' && url.protocol !== 'sqlite:') return maskUnparseable(value);
  if (url.password !== '') url.password = MASK;
  const params = new URLSearchParams(url.search);
  const secretKeys = [...new Set(params.keys())].filter((key) => SECRET_PARAMETER.test(key));
  for (const key of secretKeys) params.set(key, MASK);
  if (secretKeys.length > 0) url.search = params.toString();
  if (url.hash !== '') url.hash = MASK;
  return url.toString();
}

function maskUnparseable(value: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1];
  if (scheme?.toLowerCase() === 'sqlite') return value; // a path, no credentials
  return scheme ? `${scheme}:${MASK}` : MASK;
}
