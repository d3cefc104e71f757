// The web console (issue 16) through `app.inject()`: sign-in (one answer for every failure),
// session cookie attributes, server-side sessions that end on sign-out, password change, disable
// and removal; CSRF on every form; security headers; admin pages closed to non-admins; the
// pages' content; `webConsole: false`; the assets' weight.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { OPERATOR } from '../../src/admin/actor.js';
import { createAdminServices } from '../../src/admin/admin-services.js';
import { addUser, basicAuth, createTestApp, type TestApp } from '../helpers/test-app.js';
import { ConsoleClient } from './web-helpers.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';

let t: TestApp;

before(async () => {
  t = await createTestApp();
  const alice = await addUser(t.deps, 'alice');
  await addUser(t.deps, 'bob');
  await addUser(t.deps, 'root', { admin: true });
  const repo = await t.deps.metadata.createRepo('alice/assets', { isPublic: false });
  await t.deps.metadata.createLock({ repoId: repo.id, path: 'art/hero.psd', ownerId: alice.id, ref: null });
});
after(() => t.close());

function setCookie(res: LightMyRequestResponse, name: string): string {
  const header = res.headers['set-cookie'];
  const all = Array.isArray(header) ? header : header ? [header] : [];
  const found = all.find((c) => c.startsWith(`${name}=`));
  assert.ok(found, `${name} cookie set`);
  return found;
}

/** the page's markup with whitespace normalised (the templates are formatted by prettier) */
function markup(res: LightMyRequestResponse): string {
  return res.body
    .replace(/\s+/g, ' ')
    .replace(/\s*\/?>/g, '>')
    .replace(/>\s+</g, '><')
    .replace(/<([a-z]+) >/g, '<$1>');
}

/** the page's text without the parts that change per request */
function stable(body: string): string {
  return body.replace(/name="_csrf" value="[^"]+"/g, '');
}

void describe('console: signing in', () => {
  void it('shows a labelled form with a strict Content-Security-Policy', async () => {
    const res = await t.app.inject('/-/sign-in');
    assert.equal(res.statusCode, 200);
    assert.match(markup(res), /<label>User name <input name="name"/);
    assert.match(markup(res), /<label>Password <input type="password" name="password"/);
    assert.match(res.body, /<button type="submit">Sign in<\/button>/);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(/unsafe-inline|unsafe-eval/.test(csp), false);
    assert.equal(/<script>|<style>| on[a-z]+="/.test(res.body), false, 'no inline script or style');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['cache-control'], 'no-store');
    // `/` leads to the sign-in page
    const root = await t.app.inject('/');
    assert.equal(root.statusCode, 303);
    assert.equal(root.headers.location, '/-/sign-in');
  });

  void it('gives the same answer for an unknown user, a wrong password and a disabled user', async () => {
    await addUser(t.deps, 'gone');
    await createAdminServices(t.deps.metadata).users.setDisabled(OPERATOR, 'gone', true);
    const answers: { status: number; body: string; cookie: boolean }[] = [];
    for (const [name, password] of [
      ['nobody', 'whatever-password'],
      ['alice', 'wrong-password'],
      ['gone', 'gone-password'],
    ] as const) {
      const browser = new ConsoleClient(t.app);
      await browser.get('/-/sign-in');
      const res = await browser.post('/-/sign-in', { name: 'x', password });
      const named = await browser.post('/-/sign-in', { name, password });
      answers.push({
        status: named.statusCode,
        body: stable(named.body).replace(`value="${name}"`, ''),
        cookie: browser.cookies.has('lfsd_session'),
      });
      assert.equal(res.statusCode, 401);
    }
    assert.equal(answers[0]!.status, 401);
    assert.match(answers[0]!.body, /Wrong user name or password/);
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    assert.equal(answers[0]!.cookie, false);
  });

  void it('limits failed sign-ins per user like the LFS API: 429 with Retry-After, the same for an unknown user', async () => {
    const limited = await createTestApp({ signInFailuresPerUser: 3 });
    try {
      await addUser(limited.deps, 'alice');
      const statuses: Record<string, number[]> = {};
      for (const name of ['alice', 'nobody']) {
        const browser = new ConsoleClient(limited.app);
        await browser.get('/-/sign-in');
        statuses[name] = [];
        for (let i = 0; i < 4; i++) {
          const res = await browser.post('/-/sign-in', { name, password: 'wrong-password' });
          statuses[name]!.push(res.statusCode);
          if (res.statusCode === 429) {
            assert.ok(Number(res.headers['retry-after']) > 0, 'Retry-After');
            assert.match(String(res.headers['content-type']), /text\/html/);
          }
        }
        // while limited, even the right password is turned away, and no session begins
        const right = await browser.post('/-/sign-in', { name, password: `${name}-password` });
        assert.equal(right.statusCode, 429);
        assert.equal(browser.cookies.has('lfsd_session'), false);
      }
      assert.deepEqual(statuses.alice, [401, 401, 401, 429]);
      assert.deepEqual(statuses.nobody, statuses.alice);
      // the LFS API shares the count: alice's Basic credentials are limited there too
      const api = await limited.app.inject({
        url: '/api/v1/me',
        headers: { authorization: basicAuth('alice', 'alice-password') },
      });
      assert.equal(api.statusCode, 429);
    } finally {
      await limited.close();
    }
  });

  void it('a token typed as the password opens no session', async () => {
    const { token } = await createAdminServices(t.deps.metadata).tokens.create(OPERATOR, 'bob', {});
    const browser = new ConsoleClient(t.app);
    await browser.get('/-/sign-in');
    const res = await browser.post('/-/sign-in', { name: 'bob', password: token });
    assert.equal(res.statusCode, 401);
  });

  void it('sets an HttpOnly, SameSite=Strict session cookie, Secure when served over https', async () => {
    const browser = new ConsoleClient(t.app);
    await browser.get('/-/sign-in');
    const res = await browser.post('/-/sign-in', { name: 'alice', password: 'alice-password' });
    assert.equal(res.statusCode, 303);
    const cookie = setCookie(res, 'lfsd_session');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.equal(/Secure/.test(cookie), false, 'plain http here');

    const https = await createTestApp();
    try {
      https.deps.publicUrl = 'https://lfsd.example';
      await addUser(https.deps, 'alice');
      const secure = new ConsoleClient(https.app);
      await secure.get('/-/sign-in');
      const signedIn = await secure.post('/-/sign-in', { name: 'alice', password: 'alice-password' });
      assert.match(setCookie(signedIn, 'lfsd_session'), /; Secure/);
    } finally {
      await https.close();
    }
  });

  void it('refuses a sign-in form without its CSRF token', async () => {
    const browser = new ConsoleClient(t.app);
    await browser.get('/-/sign-in');
    const res = await browser.post(
      '/-/sign-in',
      { name: 'alice', password: 'alice-password' },
      { csrf: false },
    );
    assert.equal(res.statusCode, 403);
    assert.equal(browser.cookies.has('lfsd_session'), false);
  });
});

void describe('console: pages', () => {
  void it('repositories with visibility, access, objects, bytes and locks; a repository with its locks', async () => {
    const alice = new ConsoleClient(t.app);
    await alice.signIn('alice', 'alice-password');
    const list = await alice.get('/-/repos');
    assert.equal(list.statusCode, 200);
    assert.equal(list.headers['cache-control'], 'no-store');
    assert.match(list.body, /<a href="\/-\/repos\/alice\/assets">alice\/assets<\/a>/);
    assert.match(markup(list), /<td>private<\/td><td>admin<\/td>/);
    assert.match(markup(list), /<a href="\/-\/tokens"[^>]*>Tokens<\/a>/);
    assert.equal(list.body.includes('/-/users'), false, 'no admin links for a user');
    const repo = await alice.get('/-/repos/alice/assets');
    assert.equal(repo.statusCode, 200);
    assert.match(markup(repo), /<td>art\/hero\.psd<\/td><td>alice<\/td>/);
    const bob = new ConsoleClient(t.app);
    await bob.signIn('bob', 'bob-password');
    assert.equal((await bob.get('/-/repos/alice/assets')).statusCode, 404);
    assert.equal((await bob.get('/-/repos')).body.includes('alice/assets'), false);
  });

  void it('escapes what users wrote', async () => {
    const browser = new ConsoleClient(t.app);
    await browser.signIn('bob', 'bob-password');
    await browser.post('/-/tokens', { name: '<img src=x onerror=alert(1)>', expires_in_days: '' });
    const page = await browser.get('/-/tokens');
    assert.equal(page.body.includes('<img src=x'), false);
    assert.match(page.body, /&lt;img src=x onerror=alert\(1\)&gt;/);
  });

  void it('tokens: created and shown once, usable, revoked', async () => {
    const browser = new ConsoleClient(t.app);
    await browser.signIn('alice', 'alice-password');
    const created = await browser.post('/-/tokens', { name: 'laptop', expires_in_days: '30' });
    assert.equal(created.statusCode, 201);
    const token = /data-testid="new-token"[^>]*>([^<]+)</.exec(created.body)?.[1];
    assert.ok(token, 'the new token is shown');
    const me = await t.app.inject({
      url: '/api/v1/me',
      headers: { authorization: basicAuth('alice', token) },
    });
    assert.equal(me.statusCode, 200);
    const list = await browser.get('/-/tokens');
    assert.equal(list.body.includes(token), false, 'shown only once');
    const id = /<tr data-token="(\d+)"><td>laptop</.exec(markup(list))?.[1];
    assert.ok(id);
    const revoked = await browser.post('/-/tokens/revoke', { id });
    assert.equal(revoked.statusCode, 303);
    const after = await t.app.inject({
      url: '/api/v1/me',
      headers: { authorization: basicAuth('alice', token) },
    });
    assert.equal(after.statusCode, 401);
  });

  void it('SSH keys: added, listed and removed; a repository page shows its quota', async () => {
    const browser = new ConsoleClient(t.app);
    await browser.signIn('alice', 'alice-password');
    const key = ed25519KeyPair().public;
    assert.equal((await browser.post('/-/keys', { key, label: 'laptop' })).statusCode, 303);
    const page = await browser.get('/-/keys');
    const id = /<tr data-key="(\d+)"><td>laptop<\/td><td>ssh-ed25519<\/td>/.exec(markup(page))?.[1];
    assert.ok(id, 'the key is listed');
    assert.equal((await browser.post('/-/keys', { key: 'ssh-ed25519 AAAA' })).statusCode, 422);
    assert.equal((await browser.post('/-/keys/remove', { id })).statusCode, 303);
    assert.match((await browser.get('/-/keys')).body, /No SSH keys/);
    const repo = await t.deps.metadata.findRepo('alice/assets');
    await t.deps.metadata.lifecycle.setRepoQuota(repo!.id, 10 * 1024 * 1024);
    assert.match(markup(await browser.get('/-/repos/alice/assets')), /<dt>Quota<\/dt><dd>10 MiB<\/dd>/);
    await t.deps.metadata.lifecycle.setRepoQuota(repo!.id, null);
  });

  void it('a non-admin gets 403 for the admin pages and actions, and nothing changes', async () => {
    const bob = new ConsoleClient(t.app);
    await bob.signIn('bob', 'bob-password');
    for (const url of ['/-/users', '/-/grants']) {
      const res = await bob.get(url);
      assert.equal(res.statusCode, 403, url);
      assert.equal(res.body.includes('alice'), false, `${url} shows no user`);
    }
    assert.equal(
      (await bob.post('/-/users', { name: 'mallory', password: 'mallory-password' })).statusCode,
      403,
    );
    assert.equal(
      (await bob.post('/-/grants', { user: 'bob', repo: 'alice/assets', permission: 'admin' })).statusCode,
      403,
    );
    assert.equal(await t.deps.metadata.findUserByName('mallory'), undefined);
    const id = (
      await t.deps.metadata.listLocks((await t.deps.metadata.findRepo('alice/assets'))!.id, { limit: 10 })
    )[0]!.id;
    assert.equal((await bob.post('/-/locks/remove', { repo: 'alice/assets', id })).statusCode, 404);
  });

  void it('an admin adds a user, grants access, breaks a lock and disables the user', async () => {
    const root = new ConsoleClient(t.app);
    await root.signIn('root', 'root-password');
    const users = await root.get('/-/users');
    assert.equal(users.statusCode, 200);
    assert.match(users.body, /data-user="alice"/);
    assert.equal((await root.post('/-/users', { name: 'dave', password: 'dave-password' })).statusCode, 303);
    assert.match((await root.get('/-/users')).body, /data-user="dave"/);
    assert.equal(
      (await root.post('/-/grants', { user: 'dave', repo: 'alice/assets', permission: 'write' })).statusCode,
      303,
    );
    assert.match(markup(await root.get('/-/grants')), /<td>alice\/assets<\/td><td>dave<\/td><td>write<\/td>/);
    const dave = new ConsoleClient(t.app);
    await dave.signIn('dave', 'dave-password');
    assert.match((await dave.get('/-/repos')).body, /alice\/assets/);
    // a writer sees the lock but may not break it
    const repoPage = await dave.get('/-/repos/alice/assets');
    assert.equal(repoPage.body.includes('Break lock'), false);
    const rootPage = await root.get('/-/repos/alice/assets');
    const lockId = /<tr data-lock="(\d+)">/.exec(rootPage.body)?.[1];
    assert.ok(lockId && rootPage.body.includes('Break lock'));
    assert.equal((await root.post('/-/locks/remove', { repo: 'alice/assets', id: lockId })).statusCode, 303);
    assert.match((await root.get('/-/repos/alice/assets')).body, /No locks\./);
    // disabling dave ends his session at once
    assert.equal((await root.post('/-/users/update', { name: 'dave', action: 'disable' })).statusCode, 303);
    const afterDisable = await dave.get('/-/repos');
    assert.equal(afterDisable.statusCode, 303);
    assert.equal(afterDisable.headers.location, '/-/sign-in');
    assert.equal(
      (await root.post('/-/grants/revoke', { user: 'dave', repo: 'alice/assets' })).statusCode,
      303,
    );
  });

  void it('an unknown console page is the console’s 404', async () => {
    const res = await t.app.inject('/-/nothing');
    assert.equal(res.statusCode, 404);
    assert.match(String(res.headers['content-type']), /text\/html/);
  });
});

void describe('console: sessions end', () => {
  async function signedInAs(name: string): Promise<{ browser: ConsoleClient; cookie: string }> {
    const browser = new ConsoleClient(t.app);
    await browser.signIn(name, `${name}-password`);
    return { browser, cookie: browser.cookieHeader };
  }
  const replay = (cookie: string) => t.app.inject({ url: '/api/v1/me', headers: { cookie } });

  void it('on sign-out, for the same cookie replayed', async () => {
    const { browser, cookie } = await signedInAs('bob');
    assert.equal((await replay(cookie)).statusCode, 200);
    const out = await browser.post('/-/sign-out', {});
    assert.equal(out.statusCode, 303);
    assert.equal(out.headers.location, '/-/sign-in');
    assert.equal((await replay(cookie)).statusCode, 401);
    assert.equal((await t.app.inject({ url: '/-/repos', headers: { cookie } })).statusCode, 303);
  });

  void it('on a password change and on removal of the user', async () => {
    await addUser(t.deps, 'erin');
    const { cookie } = await signedInAs('erin');
    const services = createAdminServices(t.deps.metadata);
    await services.users.setPassword(OPERATOR, 'erin', 'erin-password-2');
    assert.equal((await replay(cookie)).statusCode, 401);
    await addUser(t.deps, 'fred');
    const fred = await signedInAs('fred');
    const sessionRef = (await replay(fred.cookie)).json();
    assert.equal(sessionRef.credential, 'session');
    await services.users.remove(OPERATOR, 'fred');
    assert.equal((await replay(fred.cookie)).statusCode, 401);
  });

  void it('the session credential resolves while live (auth/credentials.ts)', async () => {
    const browser = new ConsoleClient(t.app);
    await browser.signIn('bob', 'bob-password');
    const user = await t.deps.metadata.findUserByName('bob');
    const secret = browser.cookies.get('lfsd_session')!;
    const { createHash } = await import('node:crypto');
    const found = await t.deps.metadata.findWebSession({
      secretHash: createHash('sha256').update(secret).digest('hex'),
    });
    assert.ok(found);
    assert.equal(
      (await t.deps.credentials.liveUser({ kind: 'session', id: String(found.session.id) }))?.id,
      user!.id,
    );
    await browser.post('/-/sign-out', {});
    assert.equal(
      await t.deps.credentials.liveUser({ kind: 'session', id: String(found.session.id) }),
      undefined,
    );
  });
});

void describe('console: off, and its weight', () => {
  void it('webConsole: false serves no console, and the API stays', async () => {
    const off = await createTestApp({ webConsole: false });
    try {
      const { authorization } = await addUser(off.deps, 'alice');
      assert.equal((await off.app.inject('/')).statusCode, 404);
      assert.equal((await off.app.inject('/-/sign-in')).statusCode, 404);
      assert.equal((await off.app.inject('/-/assets/console.css')).statusCode, 404);
      assert.equal((await off.app.inject({ url: '/api/v1/me', headers: { authorization } })).statusCode, 200);
    } finally {
      await off.close();
    }
  });

  void it('every asset is served by lfsd, all of them under 200 KB compressed', async () => {
    const dir = new URL('../../src/web/assets/', import.meta.url);
    let compressed = 0;
    for (const file of readdirSync(dir)) {
      const res = await t.app.inject(`/-/assets/${file}`);
      assert.equal(res.statusCode, 200, file);
      assert.deepEqual(res.rawPayload, readFileSync(new URL(file, dir)));
      compressed += gzipSync(res.rawPayload).length;
    }
    const page = await t.app.inject('/-/sign-in');
    compressed += gzipSync(page.rawPayload).length;
    assert.ok(compressed < 200 * 1024, `${compressed} bytes`);
    assert.equal(/https?:\/\//.test(page.body), false, 'no asset from elsewhere');
  });

  void it('assets are cached a day and revalidated; other paths under /-/assets/ are not found', async () => {
    const first = await t.app.inject('/-/assets/console.css');
    assert.equal(first.headers['cache-control'], 'public, max-age=86400');
    assert.match(String(first.headers['content-type']), /^text\/css/);
    const etag = String(first.headers.etag);
    const again = await t.app.inject({ url: '/-/assets/console.css', headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.rawPayload.length, 0);
    for (const url of ['/-/assets/nope.css', '/-/assets/', '/-/assets/..%2Fviews.js', '/-/assets/.hidden']) {
      const res = await t.app.inject(url);
      assert.equal(res.statusCode, 404, url);
      assert.match(String(res.headers['content-type']), /^text\/html/, url);
    }
  });
});
