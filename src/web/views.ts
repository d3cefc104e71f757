/**
 * The console's pages as HTML built on the server: plain forms (each with its CSRF token), one
 * stylesheet and one small script served by lfsd itself (assets/), nothing inline, so the strict
 * Content-Security-Policy holds. Every interpolated value is escaped by `html`.
 */

/** HTML that is already safe (built by `html`) */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

const SPECIAL = /[&<>"']/;

export function escapeHtml(text: string): string {
  return SPECIAL.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string) : text;
}

type Value = SafeHtml | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (typeof value === 'string') return escapeHtml(value);
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return (value as readonly Value[]).map(render).join('');
  return escapeHtml(String(value));
}

/**
 * The static parts of each template with their line breaks and indentation folded to one space
 * (the source is formatted for reading; a 1,000-row page would carry ~100 KB of indentation).
 * Only the template's own text is folded, never an interpolated value.
 */
const folded = new WeakMap<TemplateStringsArray, string[]>();

function foldedParts(strings: TemplateStringsArray): string[] {
  let parts = folded.get(strings);
  if (!parts) {
    parts = strings.map((part) => part.replace(/\n\s*/g, ' '));
    folded.set(strings, parts);
  }
  return parts;
}

/** A template whose interpolations are escaped (SafeHtml and arrays of it are kept as they are). */
export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  const parts = foldedParts(strings);
  let out = parts[0] as string;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (parts[i + 1] as string);
  return new SafeHtml(out);
}

export interface PageUser {
  name: string;
  admin: boolean;
}

export interface PageContext {
  /** the signed-in user; undefined on the sign-in page */
  user?: PageUser;
  csrf: string;
  /** which navigation entry is current */
  section?: 'repos' | 'tokens' | 'keys' | 'users' | 'grants';
}

function nav(ctx: PageContext): SafeHtml {
  if (!ctx.user) return html``;
  const link = (href: string, label: string, section: PageContext['section']) =>
    html`<a href="${href}" ${ctx.section === section ? html` aria-current="page"` : ''}>${label}</a>`;
  return html`<nav>
    ${link('/-/repos', 'Repositories', 'repos')} ${link('/-/tokens', 'Tokens', 'tokens')}
    ${link('/-/keys', 'SSH keys', 'keys')}
    ${ctx.user.admin ? [link('/-/users', 'Users', 'users'), ' ', link('/-/grants', 'Grants', 'grants')] : ''}
    <span class="spacer"></span>
    <span class="who" data-testid="signed-in-as">${ctx.user.name}${ctx.user.admin ? ' (admin)' : ''}</span>
    <form method="post" action="/-/sign-out" class="inline">
      ${csrfField(ctx)}<button type="submit">Sign out</button>
    </form>
  </nav>`;
}

export function csrfField(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}" />`;
}

export function page(ctx: PageContext, title: string, body: SafeHtml): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · lfsd</title>
        <link rel="stylesheet" href="/-/assets/console.css" />
        <script src="/-/assets/console.js" defer></script>
      </head>
      <body>
        <header><a class="brand" href="/">lfsd</a>${nav(ctx)}</header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html> `.value;
}

// ---- formatting

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatAge(since: Date, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - since.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

export function repoHref(path: string): string {
  return `/-/repos/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export function notice(message: string | undefined, kind: 'error' | 'ok' = 'error'): SafeHtml {
  return message
    ? html`<p class="notice ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${message}</p>`
    : html``;
}
