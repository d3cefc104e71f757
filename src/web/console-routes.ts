/**
 * The web console's pages (issue 16): sign-in, repositories, a repository's locks, tokens, and for
 * site admins users and grants. Each page is HTML built on the server (views.ts); each action is
 * a form POST carrying the CSRF token, answered with a redirect (or, for a new token, with the page
 * that shows it once). Every rule is the service layer's (web-services.ts), as for the API and
 * the CLI. Nothing private is cached (`Cache-Control: no-store`), so after signing out the back
 * button shows nothing.
 */
import { fileURLToPath } from 'node:url';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OPERATOR } from '../admin/actor.js';
import type { UserCaller } from '../auth/caller.js';
import { isLfsError, lfsError } from '../errors.js';
import type { AppDeps } from '../http/app-deps.js';
import { clientAddress } from '../limits/client-address.js';
import { toLfsError } from '../http/error-handler.js';
import { PERMISSIONS } from '../admin/grant-service.js';
import { getRepoJson, listRepoJson, toSshKeyJson, toTokenJson } from './api-routes.js';
import { CSRF_COOKIE } from './console-security.js';
import type { SessionService } from './session-service.js';
import { SESSION_COOKIE } from './web-auth.js';
import type { WebServices } from './web-services.js';
import {
  csrfField,
  formatAge,
  formatBytes,
  html,
  notice,
  page,
  repoHref,
  type PageContext,
  type SafeHtml,
} from './views.js';

const FORM_BODY_LIMIT = 64 * 1024;
const LOCKS_PER_PAGE = 100;

export interface ConsoleOptions {
  deps: AppDeps;
  services: WebServices;
  sessions: SessionService;
}

type Form = Record<string, string | undefined>;

const ASSETS = fileURLToPath(new URL('./assets/', import.meta.url));
/** the assets change only with lfsd itself; a day keeps page loads to one request */
const ASSET_MAX_AGE_MS = 24 * 3600 * 1000;

/**
 * The console's static files (its stylesheet and script), sent by @fastify/send with its ETag,
 * Last-Modified, conditional and Range answers. Imported on the first asset request: the
 * @fastify/static plugin, registered at start, held 1.15 MB in the heap of every server, console
 * used or not. `:file` matches no `/`, and send refuses paths outside ASSETS and dotfiles.
 */
async function sendAsset(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { default: send } = await import('@fastify/send');
  const { file } = request.params as { file: string };
  // send URI-decodes the path it is given
  const sent = await send(request.raw, encodeURIComponent(file), {
    root: ASSETS,
    maxAge: ASSET_MAX_AGE_MS,
    index: false,
    dotfiles: 'deny',
  });
  if (sent.type !== 'file') {
    sent.stream.destroy();
    if (sent.type === 'error' && sent.statusCode >= 500) throw sent.metadata.error;
    throw lfsError('route_not_found', 'There is no such page');
  }
  return reply.code(sent.statusCode).headers(sent.headers).send(sent.stream);
}

export async function consolePlugin(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const { deps, services, sessions } = options;
  app.get('/-/assets/:file', (request, reply) => sendAsset(request, reply));
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.addHook('onRequest', async (request) => {
    request.ctx.route = 'console';
  });
  // every form post carries the CSRF token of this browser's session (or of the signed-out
  // browser, for the sign-in form)
  app.addHook('preHandler', (request, reply, done) => {
    if (request.method === 'POST') return app.csrfProtection(request, reply, done);
    done();
  });
  app.setErrorHandler((err: FastifyError, request, reply) => renderError(err, request, reply));
  // `/-/` belongs to the console: an unknown page is the console's 404, not the LFS API's
  app.route({
    method: ['GET', 'POST'],
    url: '/-/*',
    handler: async () => {
      throw lfsError('route_not_found', 'There is no such page');
    },
  });

  const secure = (request: FastifyRequest) =>
    request.protocol === 'https' || deps.publicUrl.startsWith('https:');
  const cookieOptions = (request: FastifyRequest) => ({
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: secure(request),
  });

  /** the signed-in user of a console request (only its session counts), or a redirect to sign in */
  function signedIn(request: FastifyRequest, reply: FastifyReply): UserCaller | undefined {
    const { caller, via } = request.web;
    if (via === 'session' && caller.kind === 'user') return caller;
    void reply.code(303).header('Location', '/-/sign-in').header('Cache-Control', 'no-store').send();
    return undefined;
  }

  function context(
    request: FastifyRequest,
    reply: FastifyReply,
    caller: UserCaller | undefined,
    section?: PageContext['section'],
  ): PageContext {
    const csrf = reply.generateCsrf({
      userInfo: String(request.web.sessionId ?? 'anonymous'),
    });
    return {
      csrf,
      section,
      ...(caller ? { user: { name: caller.user.name, admin: caller.user.isAdmin } } : {}),
    };
  }

  function send(reply: FastifyReply, html: string, status = 200): FastifyReply {
    return reply.code(status).header('Cache-Control', 'no-store').type('text/html; charset=utf-8').send(html);
  }

  function redirect(reply: FastifyReply, location: string): FastifyReply {
    return reply.code(303).header('Location', location).header('Cache-Control', 'no-store').send();
  }

  function renderError(err: Error, request: FastifyRequest, reply: FastifyReply): void {
    const csrfFailed = (err as FastifyError).code?.startsWith('FST_CSRF_');
    const lfs = csrfFailed
      ? lfsError(
          'forbidden',
          'This form has expired or did not come from this console: reload the page and try again.',
        )
      : toLfsError(err as FastifyError);
    if (lfs.status >= 500) request.log.error({ err }, 'request failed');
    const caller =
      request.web?.via === 'session' && request.web.caller.kind === 'user' ? request.web.caller : undefined;
    const ctx = context(request, reply, caller);
    const body = html`${notice(lfs.message)}
      <p><a href="${caller ? '/-/repos' : '/-/sign-in'}">Back</a></p>`;
    void reply.headers(lfs.headers);
    reply.removeHeader('LFS-Authenticate');
    void send(reply, page(ctx, statusTitle(lfs.status), body), lfs.status);
  }

  // ---- sign in and out

  app.get('/', async (request, reply) =>
    redirect(reply, request.web.via === 'session' ? '/-/repos' : '/-/sign-in'),
  );

  app.get('/-/sign-in', async (request, reply) => {
    if (request.web.via === 'session') return redirect(reply, '/-/repos');
    return send(reply, signInPage(context(request, reply, undefined)));
  });

  app.post('/-/sign-in', async (request, reply) => {
    const form = request.body as Form;
    const name = form.name ?? '';
    const password = form.password ?? '';
    const user = await checkPassword(deps, request, name, password);
    if (!user) {
      // the same answer for an unknown user, a wrong password and a disabled user
      return send(
        reply,
        signInPage(context(request, reply, undefined), name, 'Wrong user name or password'),
        401,
      );
    }
    const { secret } = await sessions.begin(user.user);
    void reply.setCookie(SESSION_COOKIE, secret, {
      ...cookieOptions(request),
      maxAge: deps.web?.sessionTtlSeconds,
    });
    // a new CSRF secret for the new session, so no token from before sign-in carries over
    void reply.clearCookie(CSRF_COOKIE, cookieOptions(request));
    return redirect(reply, '/-/repos');
  });

  app.post('/-/sign-out', async (request, reply) => {
    if (request.web.via === 'session' && request.web.sessionId !== undefined) {
      await sessions.end(request.web.sessionId);
    }
    void reply.clearCookie(SESSION_COOKIE, cookieOptions(request));
    void reply.clearCookie(CSRF_COOKIE, cookieOptions(request));
    return redirect(reply, '/-/sign-in');
  });

  // ---- repositories and locks

  app.get('/-/repos', async (request, reply) => {
    const caller = signedIn(request, reply);
    if (!caller) return reply;
    const repos = await listRepoJson(services, caller);
    const rows = repos.map(
      (r) =>
        html`<tr data-repo="${r.path}">
          <td><a href="${repoHref(r.path)}">${r.path}</a></td>
          <td>${r.public ? 'public' : 'private'}</td>
          <td>${r.access}</td>
          <td class="num" data-testid="objects">${r.objects}</td>
          <td class="num">${formatBytes(r.bytes)}</td>
          <td class="num">${r.locks}</td>
        </tr>`,
    );
    const body = html`${repos.length === 0 ? html`<p>No repositories yet: push to one in your namespace (<code>${caller.user.name}/…</code>).</p>` : ''}
      <table class="list">
        <thead>
          <tr>
            <th>Path</th>
            <th>Visibility</th>
            <th>Your access</th>
            <th>Objects</th>
            <th>Bytes</th>
            <th>Locks</th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>`;
    return send(reply, page(context(request, reply, caller, 'repos'), 'Repositories', body));
  });

  app.get('/-/repos/*', async (request, reply) => {
    const caller = signedIn(request, reply);
    if (!caller) return reply;
    const path = (request.params as { '*': string })['*'];
    const repo = await getRepoJson(services, caller, path);
    const cursor = (request.query as Form).cursor;
    const locks = await services.locks.list(caller, repo.path, {
      limit: String(LOCKS_PER_PAGE),
      ...(cursor ? { cursor } : {}),
    });
    const ctx = context(request, reply, caller, 'repos');
    const canBreak = repo.access === 'admin';
    const now = Date.now();
    const rows = locks.locks.map(
      (lock) =>
        html`<tr data-lock="${lock.id}">
          <td>${lock.path}</td>
          <td>${lock.owner.name}</td>
          <td title="${lock.locked_at}">${formatAge(new Date(lock.locked_at), now)}</td>
          <td>
            ${
              canBreak || lock.owner.name === caller.user.name
                ? html`<form
                    method="post"
                    action="/-/locks/remove"
                    class="inline"
                    data-confirm="Remove the lock on ${lock.path}?"
                  >
                    ${csrfField(ctx)}<input type="hidden" name="repo" value="${repo.path}" /><input
                      type="hidden"
                      name="id"
                      value="${lock.id}"
                    />
                    <button type="submit">
                      ${lock.owner.name === caller.user.name ? 'Unlock' : 'Break lock'}
                    </button>
                  </form>`
                : ''
            }
          </td>
        </tr>`,
    );
    const body = html`<dl class="facts">
        <dt>Visibility</dt>
        <dd>${repo.public ? 'public' : 'private'}</dd>
        <dt>Your access</dt>
        <dd>${repo.access}</dd>
        <dt>Objects</dt>
        <dd data-testid="objects">${repo.objects}</dd>
        <dt>Bytes</dt>
        <dd>${formatBytes(repo.bytes)}</dd>
        <dt>Locks</dt>
        <dd>${repo.locks}</dd>
        ${
          repo.quota_bytes === null
            ? ''
            : html`<dt>Quota</dt>
                <dd>${formatBytes(repo.quota_bytes)}</dd>`
        }
      </dl>
      <h2>Locks</h2>
      ${
        locks.locks.length === 0
          ? html`<p>No locks.</p>`
          : html`<table class="list">
              <thead>
                <tr>
                  <th>File</th>
                  <th>Owner</th>
                  <th>Age</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                ${rows}
              </tbody>
            </table>`
      }
      ${locks.next_cursor ? html`<p><a href="?cursor=${locks.next_cursor}">Next locks</a></p>` : ''}`;
    return send(reply, page(ctx, repo.path, body));
  });

  app.post('/-/locks/remove', async (request, reply) => {
    const caller = signedIn(request, reply);
    if (!caller) return reply;
    const form = request.body as Form;
    const { repo } = await services.admin.repos.get(caller, form.repo ?? '');
    await services.locks.unlock(caller, repo.path, form.id ?? '', { force: true });
    return redirect(reply, repoHref(repo.path));
  });

  // ---- tokens

  async function tokensPage(
    request: FastifyRequest,
    reply: FastifyReply,
    caller: UserCaller,
    created?: string,
  ) {
    const tokens = (await services.admin.tokens.list(caller, caller.user.name)).map(toTokenJson);
    const ctx = context(request, reply, caller, 'tokens');
    const rows = tokens.map(
      (t) =>
        html`<tr data-token="${t.id}">
          <td>${t.name ?? ''}</td>
          <td>${t.state}</td>
          <td>${t.scopes.join(', ')}</td>
          <td>${t.created_at.slice(0, 10)}</td>
          <td>${t.expires_at?.slice(0, 10) ?? 'never'}</td>
          <td>
            ${t.state === 'active' ? html`<form method="post" action="/-/tokens/revoke" class="inline" data-confirm="Revoke this token? Anything using it stops working at once.">${csrfField(ctx)}<input type="hidden" name="id" value="${t.id}" /><button type="submit">Revoke</button></form>` : ''}
          </td>
        </tr>`,
    );
    const body = html`${
        created
          ? html`<div class="notice ok" role="status">
              <p>Your new token (shown only now: copy it somewhere safe):</p>
              <p>
                <code data-testid="new-token" class="secret">${created}</code>
                <button type="button" data-copy="new-token">Copy</button>
              </p>
              <p>Use it as the password for your user name, e.g. in <code>git lfs push</code>.</p>
            </div>`
          : ''
      }
      <form method="post" action="/-/tokens" class="card">
        ${csrfField(ctx)}
        <label>Name <input name="name" maxlength="200" placeholder="laptop" /></label>
        <label
          >Expires after
          <select name="expires_in_days">
            <option value="">never</option>
            <option value="7">7 days</option>
            <option value="30">30 days</option>
            <option value="90" selected>90 days</option>
            <option value="365">1 year</option>
          </select></label
        >
        <label class="check"
          ><input type="checkbox" name="scope_tokens" value="1" /> may create further tokens</label
        >
        <button type="submit">Create token</button>
      </form>
      <table class="list">
        <thead>
          <tr>
            <th>Name</th>
            <th>State</th>
            <th>Scopes</th>
            <th>Created</th>
            <th>Expires</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>`;
    return send(reply, page(ctx, 'Tokens', body), created ? 201 : 200);
  }

  app.get('/-/tokens', async (request, reply) => {
    const caller = signedIn(request, reply);
    return caller ? tokensPage(request, reply, caller) : reply;
  });

  app.post('/-/tokens', async (request, reply) => {
    const caller = signedIn(request, reply);
    if (!caller) return reply;
    const form = request.body as Form;
    const days = form.expires_in_days ? Number(form.expires_in_days) : undefined;
    if (days !== undefined && !(Number.isSafeInteger(days) && days > 0 && days <= 36_500)) {
      throw lfsError('validation', 'Choose an expiry from the list');
    }
    const { token } = await services.admin.tokens.create(caller, caller.user.name, {
      name: form.name,
      expiresInMs: days === undefined ? undefined : days * 24 * 3600 * 1000,
      scopes: form.scope_tokens ? ['tokens'] : [],
    });
    return tokensPage(request, reply, caller, token);
  });

  app.post('/-/tokens/revoke', async (request, reply) => {
    const caller = signedIn(request, reply);
    if (!caller) return reply;
    await services.admin.tokens.revoke(caller, caller.user.name, Number((request.body as Form).id));
    return redirect(reply, '/-/tokens');
  });

  // ---- SSH keys

  app.get('/-/keys', async (request, reply) => {
    const caller = signedIn(request, reply);
    if (!caller) return reply;
    const keys = (await services.admin.keys.list(caller, caller.user.name)).map(toSshKeyJson);
    const ctx = context(request, reply, caller, 'keys');
    const rows = keys.map(
      (k) =>
        html`<tr data-key="${k.id}">
          <td>${k.label ?? ''}</td>
          <td>${k.type}</td>
          <td><code>${k.fingerprint}</code></td>
          <td>${k.created_at.slice(0, 10)}</td>
          <td>${k.last_used_at?.slice(0, 10) ?? 'never'}</td>
          <td>
            <form
              method="post"
              action="/-/keys/remove"
              class="inline"
              data-confirm="Remove this key? SSH transfers with it stop at once."
            >
              ${csrfField(ctx)}<input type="hidden" name="id" value="${k.id}" /><button type="submit">
                Remove
              </button>
            </form>
          </td>
        </tr>`,
    );
    const body = html`<form method="post" action="/-/keys" class="card">
        ${csrfField(ctx)}
        <label
          >Public key
          <input name="key" required maxlength="16384" size="60" placeholder="ssh-ed25519 AAAA… you@laptop"
        /></label>
        <label>Label <input name="label" maxlength="200" placeholder="laptop" /></label>
        <button type="submit">Add key</button>
      </form>
      ${
        keys.length === 0
          ? html`<p>No SSH keys: add one to use git-lfs over SSH.</p>`
          : html`<table class="list">
              <thead>
                <tr>
                  <th>Label</th>
                  <th>Type</th>
                  <th>Fingerprint</th>
                  <th>Added</th>
                  <th>Last used</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                ${rows}
              </tbody>
            </table>`
      }`;
    return send(reply, page(ctx, 'SSH keys', body));
  });

  app.post('/-/keys', async (request, reply) => {
    const caller = signedIn(request, reply);
    if (!caller) return reply;
    const { key = '', label } = request.body as Form;
    await services.admin.keys.add(caller, caller.user.name, key.trim(), label ? label : undefined);
    return redirect(reply, '/-/keys');
  });

  app.post('/-/keys/remove', async (request, reply) => {
    const caller = signedIn(request, reply);
    if (!caller) return reply;
    await services.admin.keys.remove(caller, caller.user.name, Number((request.body as Form).id));
    return redirect(reply, '/-/keys');
  });

  // ---- users (site admins)

  /** the signed-in site admin, or a 403 page (and never the page's content) */
  function admin(request: FastifyRequest, reply: FastifyReply): UserCaller | undefined {
    const caller = signedIn(request, reply);
    if (caller && !caller.user.isAdmin)
      throw lfsError('forbidden', 'Only an administrator may see this page');
    return caller;
  }

  app.get('/-/users', async (request, reply) => {
    const caller = admin(request, reply);
    if (!caller) return reply;
    const users = await services.admin.users.list(caller);
    const ctx = context(request, reply, caller, 'users');
    const rows = users.map((u) => {
      const self = u.id === caller.user.id;
      return html`<tr data-user="${u.name}">
        <td>${u.name}</td>
        <td>${u.isAdmin ? 'admin' : ''}</td>
        <td>${u.disabled ? 'disabled' : 'active'}</td>
        <td>${u.createdAt.toISOString().slice(0, 10)}</td>
        <td class="actions">
          ${
            self
              ? ''
              : html`<form method="post" action="/-/users/update" class="inline">
                  ${csrfField(ctx)}<input type="hidden" name="name" value="${u.name}" /><input
                    type="hidden"
                    name="action"
                    value="${u.disabled ? 'enable' : 'disable'}"
                  /><button type="submit">${u.disabled ? 'Enable' : 'Disable'}</button>
                </form>`
          }
          <form method="post" action="/-/users/update" class="inline">
            ${csrfField(ctx)}<input type="hidden" name="name" value="${u.name}" /><input
              type="hidden"
              name="action"
              value="password"
            /><input
              type="password"
              name="password"
              aria-label="New password for ${u.name}"
              placeholder="new password"
              autocomplete="new-password"
              minlength="8"
            /><button type="submit">Reset password</button>
          </form>
        </td>
      </tr>`;
    });
    const body = html`<form method="post" action="/-/users" class="card">
        ${csrfField(ctx)}
        <label>User name <input name="name" required maxlength="100" /></label>
        <label
          >Password <input type="password" name="password" autocomplete="new-password" minlength="8"
        /></label>
        <label class="check"><input type="checkbox" name="admin" value="1" /> administrator</label>
        <button type="submit">Add user</button>
      </form>
      <table class="list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>State</th>
            <th>Created</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>`;
    return send(reply, page(ctx, 'Users', body));
  });

  app.post('/-/users', async (request, reply) => {
    const caller = admin(request, reply);
    if (!caller) return reply;
    const form = request.body as Form;
    await services.admin.users.add(caller, {
      name: form.name ?? '',
      password: form.password ? form.password : undefined,
      admin: form.admin === '1',
    });
    return redirect(reply, '/-/users');
  });

  app.post('/-/users/update', async (request, reply) => {
    const caller = admin(request, reply);
    if (!caller) return reply;
    const { name = '', action, password } = request.body as Form;
    const { users } = services.admin;
    if (action === 'disable' || action === 'enable')
      await users.setDisabled(caller, name, action === 'disable');
    else if (action === 'password') await users.setPassword(caller, name, password ?? '');
    else throw lfsError('validation', 'Unknown action');
    // resetting one's own password ends one's session: sign in again
    const self = await users.get(OPERATOR, caller.user.name);
    return redirect(reply, self.authGeneration === caller.user.authGeneration ? '/-/users' : '/-/sign-in');
  });

  // ---- grants (site admins)

  app.get('/-/grants', async (request, reply) => {
    const caller = admin(request, reply);
    if (!caller) return reply;
    const grants = await services.admin.grants.list(caller, {});
    const ctx = context(request, reply, caller, 'grants');
    const options = PERMISSIONS.map((p) => html`<option value="${p}">${p}</option>`);
    const rows = grants.map(
      (g) =>
        html`<tr data-grant="${g.userName} ${g.repoPath}">
          <td>${g.repoPath}</td>
          <td>${g.userName}</td>
          <td>${g.permission}</td>
          <td>
            <form method="post" action="/-/grants/revoke" class="inline">
              ${csrfField(ctx)}<input type="hidden" name="user" value="${g.userName}" /><input
                type="hidden"
                name="repo"
                value="${g.repoPath}"
              /><button type="submit">Revoke</button>
            </form>
          </td>
        </tr>`,
    );
    const body = html`<form method="post" action="/-/grants" class="card">
        ${csrfField(ctx)}
        <label>User <input name="user" required maxlength="100" /></label>
        <label>Repository <input name="repo" required maxlength="512" placeholder="team/assets" /></label>
        <label
          >Permission
          <select name="permission">
            ${options}
          </select></label
        >
        <button type="submit">Grant</button>
      </form>
      <table class="list">
        <thead>
          <tr>
            <th>Repository</th>
            <th>User</th>
            <th>Permission</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>`;
    return send(reply, page(ctx, 'Grants', body));
  });

  app.post('/-/grants', async (request, reply) => {
    const caller = admin(request, reply);
    if (!caller) return reply;
    const { user = '', repo = '', permission = '' } = request.body as Form;
    await services.admin.grants.grant(caller, user, repo, permission);
    return redirect(reply, '/-/grants');
  });

  app.post('/-/grants/revoke', async (request, reply) => {
    const caller = admin(request, reply);
    if (!caller) return reply;
    const { user = '', repo = '' } = request.body as Form;
    await services.admin.grants.revoke(caller, user, repo);
    return redirect(reply, '/-/grants');
  });
}

/**
 * The user a sign-in form names, if the password is theirs: through the one Authenticator entry
 * for passwords, so the same rules and failed-sign-in limits (429 with Retry-After, per user name
 * and per address) apply as for `Authorization: Basic`. Only a password opens a session.
 */
async function checkPassword(
  deps: AppDeps,
  request: FastifyRequest,
  name: string,
  password: string,
): Promise<UserCaller | undefined> {
  try {
    const caller = await deps.authenticator.signInWithPassword({
      name,
      password,
      address: clientAddress(request, deps.trustProxy ?? 0),
    });
    return caller.kind === 'user' ? caller : undefined;
  } catch (err) {
    if (isLfsError(err) && err.status === 401) return undefined;
    throw err;
  }
}

function signInPage(ctx: PageContext, name = '', error?: string): string {
  const body: SafeHtml = html`${notice(error)}
    <form method="post" action="/-/sign-in" class="card sign-in">
      ${csrfField(ctx)}
      <label
        >User name <input name="name" value="${name}" autocomplete="username" required autofocus
      /></label>
      <label
        >Password <input type="password" name="password" autocomplete="current-password" required
      /></label>
      <button type="submit">Sign in</button>
    </form>`;
  return page(ctx, 'Sign in', body);
}

function statusTitle(status: number): string {
  switch (status) {
    case 401:
      return 'Sign in needed';
    case 403:
      return 'Not allowed';
    case 404:
      return 'Not found';
    case 409:
      return 'Already exists';
    case 413:
      return 'Too large';
    case 429:
      return 'Too many attempts';
    default:
      return status >= 500 ? 'Something went wrong' : 'Cannot do that';
  }
}
