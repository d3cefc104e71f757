/**
 * URLs lfsd hands out and routes (DESIGN.md "HTTP surface"). The LFS base URL of a repository is
 * `<public-url>/<repo-path>.git/info/lfs`, what the client derives from a Git remote
 * (LFS-PROTOCOL.md section 1.1); transfer hrefs live under it so that logs and metrics can name
 * the repository of every request.
 */
export function lfsBaseUrl(publicUrl: string, repoPath: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/${repoPath}.git/info/lfs`;
}

export function objectHref(baseUrl: string, oid: string): string {
  return `${baseUrl}/objects/${oid}`;
}

export function verifyHref(baseUrl: string, oid: string): string {
  return `${baseUrl}/objects/${oid}/verify`;
}
