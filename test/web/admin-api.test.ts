// The admin API (issue 16) through the HTTP app: every route, the access matrix (anonymous, user,
// other user, admin, revoked token), bad input refused with a clear JSON 4xx and nothing changed,
// the "tokens" scope, CSRF on session-authenticated requests, and the OpenAPI document.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { API_PREFIX, API_ROUTES } from '../../src/web/api-routes.js';
import { addUser, basicAuth, createTestApp, type TestApp } from '../helpers/test-app.js';
import { ConsoleClient } from './web-helpers.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';

type Who = 'anonymous' | 'alice' | 'bob' | 'root' | 'revoked';

let t: TestApp;
const auth: Record<Who, string | undefined> = {
  anonymous: undefined,
  alice: undefined,
  bob: undefined,
  root: undefined,
  revoked: undefined,
};
let aliceToken = '';

async function call(
  who: Who | string,
  method: string,
  path: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const authorization = who in auth ? auth[who as Who] : who;
  return t.app.inject({
    method: method as 'GET',
    url: API_PREFIX + path,
    headers: { ...(authorization ? { authorization } : {}), ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

/** asserts the status, and that an error is JSON with a message and a request id */
function expectStatus(res: LightMyRequestResponse, status: number, what: string): void {
  assert.equal(res.statusCode, status, `${what}: ${res.body}`);
  if (status >= 400) {
    assert.match(String(res.headers['content-type']), /^application\/json/, what);
    const body = res.json() as { message: string; request_id: string };
    assert.ok(body.message.length > 0, what);
    assert.equal(body.request_id, res.headers['x-request-id'], what);
  }
}

async function matrix(
  method: string,
  path: string,
  expected: Partial<Record<Who, number>>,
  payload?: unknown,
) {
  for (const who of Object.keys(expected) as Who[]) {
    expectStatus(await call(who, method, path, payload), expected[who] as number, `${who} ${method} ${path}`);
  }
}

before(async () => {
  t = await createTestApp();
  const alice = await addUser(t.deps, 'alice');
  const bob = await addUser(t.deps, 'bob');
  const root = await addUser(t.deps, 'root', { admin: true });
  auth.alice = alice.authorization;
  auth.bob = bob.authorization;
  auth.root = root.authorization;
  aliceToken = alice.token;
  const revoked = await addUser(t.deps, 'carol');
  const [token] = await t.deps.metadata.listTokens(revoked.id);
  await t.deps.metadata.revokeToken(revoked.id, token!.id);
  auth.revoked = basicAuth('carol', revoked.token);
  const repo = await t.deps.metadata.createRepo('alice/assets', { isPublic: false });
  await t.deps.metadata.createLock({ repoId: repo.id, path: 'art/hero.psd', ownerId: alice.id, ref: null });
});
after(() => t.close());

void describe('admin API: reading', () => {
  void it('who am I', async () => {
    await matrix('GET', '/me', { anonymous: 401, alice: 200, bob: 200, root: 200, revoked: 401 });
    const me = (await call('root', 'GET', '/me')).json();
    assert.deepEqual(me, { name: 'root', admin: true, credential: 'password' });
    const viaToken = await call(basicAuth('alice', aliceToken), 'GET', '/me');
    assert.equal(viaToken.json().credential, 'token');
    const bearer = await call(`Bearer ${aliceToken}`, 'GET', '/me');
    assert.equal(bearer.json().name, 'alice');
    // a 401 says how to authenticate
    assert.match(String((await call('anonymous', 'GET', '/me')).headers['www-authenticate']), /^Basic/);
  });

  void it('repositories: each caller sees what they may read, with objects, bytes and locks', async () => {
    await matrix('GET', '/repos', { anonymous: 401, alice: 200, bob: 200, root: 200, revoked: 401 });
    const paths = async (who: Who) =>
      ((await call(who, 'GET', '/repos')).json() as { repos: { path: string }[] }).repos.map((r) => r.path);
    assert.deepEqual(await paths('alice'), ['alice/assets']);
    assert.deepEqual(await paths('bob'), []);
    assert.deepEqual(await paths('root'), ['alice/assets']);
    await matrix('GET', '/repos/alice%2Fassets', {
      anonymous: 401,
      alice: 200,
      bob: 404,
      root: 200,
      revoked: 401,
    });
    const repo = (await call('alice', 'GET', '/repos/alice%2Fassets')).json();
    assert.deepEqual(
      { ...repo, created_at: undefined },
      {
        path: 'alice/assets',
        public: false,
        access: 'admin',
        objects: 0,
        bytes: 0,
        locks: 1,
        quota_bytes: null,
        created_at: undefined,
      },
    );
    expectStatus(await call('alice', 'GET', '/repos/alice%2Fnothing'), 404, 'missing repository');
  });

  void it('locks, grants, tokens and users: the access matrix', async () => {
    await matrix('GET', '/repos/alice%2Fassets/locks', {
      anonymous: 401,
      alice: 200,
      bob: 404,
      root: 200,
      revoked: 401,
    });
    const locks = (await call('alice', 'GET', '/repos/alice%2Fassets/locks')).json();
    assert.equal(locks.locks[0].path, 'art/hero.psd');
    assert.equal(locks.locks[0].owner.name, 'alice');
    await matrix('GET', '/repos/alice%2Fassets/grants', {
      anonymous: 401,
      alice: 200,
      bob: 404,
      root: 200,
      revoked: 401,
    });
    await matrix('GET', '/grants', { anonymous: 401, alice: 403, bob: 403, root: 200, revoked: 401 });
    await matrix('GET', '/tokens', { anonymous: 401, alice: 200, bob: 200, root: 200, revoked: 401 });
    const tokens = (await call('alice', 'GET', '/tokens')).json();
    assert.equal(tokens.tokens.length, 1);
    assert.equal(tokens.tokens[0].state, 'active');
    assert.equal(JSON.stringify(tokens).includes(aliceToken), false, 'never a secret');
    await matrix('GET', '/users', { anonymous: 401, alice: 403, bob: 403, root: 200, revoked: 401 });
    assert.equal(
      JSON.stringify((await call('root', 'GET', '/users')).json()).includes('password_hash'),
      false,
    );
    await matrix('GET', '/users/alice', { anonymous: 401, alice: 200, bob: 404, root: 200, revoked: 401 });
  });
});

void describe('admin API: changing things', () => {
  void it('repositories: create, make public, delete', async () => {
    await matrix(
      'POST',
      '/repos',
      { anonymous: 401, bob: 404, revoked: 401, alice: 201, root: 409 },
      { path: 'alice/new' },
    );
    await matrix('POST', '/repos', { root: 201 }, { path: 'team/site', public: true });
    assert.equal((await call('bob', 'GET', '/repos/team%2Fsite')).json().access, 'read');
    await matrix(
      'PATCH',
      '/repos/alice%2Fnew',
      { anonymous: 401, bob: 404, revoked: 401, alice: 200 },
      { public: true },
    );
    assert.equal((await call('bob', 'GET', '/repos/alice%2Fnew')).json().public, true);
    // bob may read it now, but not administer it
    await matrix('PATCH', '/repos/alice%2Fnew', { bob: 403 }, { public: false });
    await matrix('DELETE', '/repos/alice%2Fnew', { anonymous: 401, bob: 403, revoked: 401, alice: 204 });
    await matrix('DELETE', '/repos/alice%2Fnew', { alice: 404 });
  });

  void it('grants: given and taken by a repository admin', async () => {
    const grant = '/repos/alice%2Fassets/grants/bob';
    await matrix(
      'PUT',
      grant,
      { anonymous: 401, bob: 404, revoked: 401, alice: 200 },
      { permission: 'write' },
    );
    assert.equal((await call('bob', 'GET', '/repos/alice%2Fassets')).json().access, 'write');
    await matrix('PUT', grant, { bob: 403 }, { permission: 'admin' });
    assert.deepEqual((await call('root', 'GET', '/grants')).json().grants, [
      { user: 'bob', repo: 'alice/assets', permission: 'write' },
    ]);
    expectStatus(
      await call('alice', 'PUT', '/repos/alice%2Fassets/grants/nobody', { permission: 'read' }),
      404,
      'no user',
    );
    // a writer may not break alice's lock; an admin may
    const id = (await call('alice', 'GET', '/repos/alice%2Fassets/locks')).json().locks[0].id as string;
    await matrix('DELETE', `/repos/alice%2Fassets/locks/${id}`, {
      anonymous: 401,
      bob: 403,
      revoked: 401,
      root: 200,
    });
    await matrix('DELETE', `/repos/alice%2Fassets/locks/${id}`, { root: 404 });
    assert.equal((await call('alice', 'GET', '/repos/alice%2Fassets')).json().locks, 0);
    await matrix('DELETE', grant, { anonymous: 401, bob: 403, revoked: 401, alice: 204 });
    await matrix('DELETE', grant, { alice: 404 });
    expectStatus(await call('bob', 'GET', '/repos/alice%2Fassets'), 404, 'grant gone');
  });

  void it('tokens: created once, listed, revoked; a token needs the "tokens" scope to create one', async () => {
    await matrix('POST', '/tokens', { anonymous: 401, revoked: 401 }, { name: 'x' });
    const created = await call('alice', 'POST', '/tokens', { name: 'ci', expires_in_days: 30 });
    expectStatus(created, 201, 'create');
    const token = created.json() as { id: number; token: string; name: string; expires_at: string };
    assert.equal(token.name, 'ci');
    assert.match(token.token, /^lfsd_/);
    assert.ok(new Date(token.expires_at).getTime() > Date.now() + 29 * 86_400_000);
    const withToken = basicAuth('alice', token.token);
    expectStatus(await call(withToken, 'GET', '/me'), 200, 'the new token works');
    // without the scope a token cannot mint a successor
    expectStatus(await call(withToken, 'POST', '/tokens', { name: 'next' }), 403, 'no scope');
    const scoped = (await call('alice', 'POST', '/tokens', { name: 'admin-bot', scopes: ['tokens'] })).json();
    expectStatus(
      await call(`Bearer ${scoped.token}`, 'POST', '/tokens', { name: 'child' }),
      201,
      'scoped token',
    );
    const count = (await call('alice', 'GET', '/tokens')).json().tokens.length;
    // bob cannot revoke alice's token; alice can
    expectStatus(await call('bob', 'DELETE', `/tokens/${token.id}`), 404, "bob revokes alice's token");
    expectStatus(await call(withToken, 'GET', '/me'), 200, 'still works');
    expectStatus(await call('alice', 'DELETE', `/tokens/${token.id}`), 204, 'revoke');
    expectStatus(await call(withToken, 'GET', '/me'), 401, 'revoked at once');
    const listed = (await call('alice', 'GET', '/tokens')).json().tokens as { id: number; state: string }[];
    assert.equal(listed.length, count);
    assert.equal(listed.find((t) => t.id === token.id)?.state, 'revoked');
  });

  void it('SSH keys: added, listed and removed by their owner', async () => {
    const key = ed25519KeyPair().public;
    await matrix('POST', '/keys', { anonymous: 401, revoked: 401 }, { key });
    const added = await call('alice', 'POST', '/keys', { key, label: 'laptop' });
    expectStatus(added, 201, 'add');
    const record = added.json() as { id: number; type: string; fingerprint: string; label: string };
    assert.equal(record.type, 'ssh-ed25519');
    assert.match(record.fingerprint, /^SHA256:/);
    assert.equal(record.label, 'laptop');
    // a key belongs to one user
    expectStatus(await call('bob', 'POST', '/keys', { key }), 409, 'taken');
    expectStatus(await call('alice', 'POST', '/keys', { key: 'ssh-ed25519 AAAA' }), 422, 'not a key');
    await matrix('GET', '/keys', { anonymous: 401, alice: 200, bob: 200, revoked: 401 });
    assert.deepEqual(
      ((await call('alice', 'GET', '/keys')).json().keys as { id: number }[]).map((k) => k.id),
      [record.id],
    );
    assert.deepEqual((await call('bob', 'GET', '/keys')).json().keys, []);
    await matrix('DELETE', `/keys/${record.id}`, { anonymous: 401, bob: 404, revoked: 401, alice: 204 });
    await matrix('DELETE', `/keys/${record.id}`, { alice: 404 });
  });

  void it('a repository shows its quota once an operator set one', async () => {
    assert.equal((await call('alice', 'GET', '/repos/alice%2Fassets')).json().quota_bytes, null);
    const repo = await t.deps.metadata.findRepo('alice/assets');
    await t.deps.metadata.lifecycle.setRepoQuota(repo!.id, 5_000_000);
    assert.equal((await call('alice', 'GET', '/repos/alice%2Fassets')).json().quota_bytes, 5_000_000);
    const listed = (await call('alice', 'GET', '/repos')).json().repos as { quota_bytes: number | null }[];
    assert.equal(listed[0]?.quota_bytes, 5_000_000);
    await t.deps.metadata.lifecycle.setRepoQuota(repo!.id, null);
  });

  void it('users: added, disabled, password reset and removed by an admin only', async () => {
    await matrix(
      'POST',
      '/users',
      { anonymous: 401, alice: 403, revoked: 401, root: 201 },
      { name: 'dave', password: 'dave-password' },
    );
    await matrix('POST', '/users', { root: 409 }, { name: 'dave' });
    const dave = basicAuth('dave', 'dave-password');
    expectStatus(await call(dave, 'GET', '/me'), 200, 'dave signs in');
    await matrix('PATCH', '/users/dave', { anonymous: 401, alice: 403, revoked: 401 }, { disabled: true });
    expectStatus(await call(dave, 'GET', '/me'), 200, 'a refused disable changed nothing');
    // alice may not reset dave's password, nor make herself an admin
    await matrix('PATCH', '/users/dave', { alice: 404 }, { password: 'hijacked-password' });
    await matrix('PATCH', '/users/alice', { alice: 403 }, { admin: true, password: 'alice-password-2' });
    expectStatus(await call('alice', 'GET', '/me'), 200, 'the refused change left the password alone');
    await matrix('PATCH', '/users/dave', { root: 200 }, { disabled: true });
    expectStatus(await call(dave, 'GET', '/me'), 401, 'disabled');
    await matrix('PATCH', '/users/dave', { root: 200 }, { disabled: false, password: 'dave-password-2' });
    expectStatus(await call(dave, 'GET', '/me'), 401, 'the old password is gone');
    expectStatus(await call(basicAuth('dave', 'dave-password-2'), 'GET', '/me'), 200, 'the new one works');
    // an admin cannot lock themself out
    await matrix('PATCH', '/users/root', { root: 403 }, { disabled: true });
    await matrix('DELETE', '/users/root', { root: 403 });
    await matrix('DELETE', '/users/dave', { anonymous: 401, alice: 403, revoked: 401, root: 204 });
    await matrix('DELETE', '/users/dave', { root: 404 });
    expectStatus(await call(basicAuth('dave', 'dave-password-2'), 'GET', '/me'), 401, 'removed');
  });

  void it('a user changes their own password', async () => {
    await addUser(t.deps, 'erin');
    expectStatus(
      await call(basicAuth('erin', 'erin-password'), 'PATCH', '/users/erin', {
        password: 'erin-new-password',
      }),
      200,
      'change',
    );
    expectStatus(await call(basicAuth('erin', 'erin-password'), 'GET', '/me'), 401, 'old');
    expectStatus(await call(basicAuth('erin', 'erin-new-password'), 'GET', '/me'), 200, 'new');
  });
});

void describe('admin API: bad input is a clear JSON 4xx and changes nothing', () => {
  const cases: {
    what: string;
    method: string;
    path: string;
    payload?: unknown;
    headers?: Record<string, string>;
    status: number;
    message: RegExp;
  }[] = [
    {
      what: 'unknown field',
      method: 'POST',
      path: '/repos',
      payload: { path: 'alice/bad1', owner: 'x' },
      status: 400,
      message: /additional properties: owner/,
    },
    {
      what: 'wrong type',
      method: 'POST',
      path: '/repos',
      payload: { path: 'alice/bad2', public: 'true' },
      status: 400,
      message: /public must be boolean/,
    },
    {
      what: 'number for a string',
      method: 'POST',
      path: '/repos',
      payload: { path: 7 },
      status: 400,
      message: /path must be string/,
    },
    {
      what: 'missing field',
      method: 'POST',
      path: '/repos',
      payload: {},
      status: 400,
      message: /required property 'path'/,
    },
    {
      what: 'array body',
      method: 'POST',
      path: '/repos',
      payload: [],
      status: 400,
      message: /must be object/,
    },
    {
      what: 'invalid path',
      method: 'POST',
      path: '/repos',
      payload: { path: 'alice/../x' },
      status: 422,
      message: /invalid repository path/,
    },
    {
      what: 'reserved namespace',
      method: 'POST',
      path: '/repos',
      payload: { path: 'api/v1' },
      status: 422,
      message: /invalid repository path/,
    },
    {
      what: 'reserved user name',
      method: 'POST',
      path: '/users',
      payload: { name: 'api' },
      status: 422,
      message: /invalid user name/,
    },
    {
      what: 'short password',
      method: 'POST',
      path: '/users',
      payload: { name: 'frank', password: 'short' },
      status: 422,
      message: /at least 8/,
    },
    {
      what: 'unknown scope',
      method: 'POST',
      path: '/tokens',
      payload: { scopes: ['admin'] },
      status: 400,
      message: /scopes/,
    },
    {
      what: 'string expiry',
      method: 'POST',
      path: '/tokens',
      payload: { expires_in_days: '30' },
      status: 400,
      message: /must be integer/,
    },
    {
      what: 'bad permission',
      method: 'PUT',
      path: '/repos/alice%2Fassets/grants/bob',
      payload: { permission: 'owner' },
      status: 400,
      message: /allowed values/,
    },
    {
      what: 'empty patch',
      method: 'PATCH',
      path: '/users/bob',
      payload: {},
      status: 400,
      message: /fewer than 1/,
    },
    { what: 'bad id', method: 'DELETE', path: '/tokens/abc', status: 400, message: /params\/id/ },
    {
      what: 'unknown query parameter',
      method: 'GET',
      path: '/repos?owner=alice',
      status: 400,
      message: /additional properties: owner/,
    },
    {
      what: 'not JSON',
      method: 'POST',
      path: '/repos',
      payload: '{"path":',
      headers: { 'content-type': 'application/json' },
      status: 400,
      message: /JSON/,
    },
    {
      what: 'text/plain',
      method: 'POST',
      path: '/repos',
      payload: 'path=alice/x',
      headers: { 'content-type': 'text/plain' },
      status: 415,
      message: /application\/json/,
    },
    {
      what: 'huge body',
      method: 'POST',
      path: '/repos',
      payload: { path: 'alice/big', pad: 'x'.repeat(200_000) },
      status: 413,
      message: /too large/i,
    },
    { what: 'no such route', method: 'GET', path: '/nothing', status: 404, message: /No such API route/ },
  ];
  for (const c of cases) {
    void it(c.what, async () => {
      const before = JSON.stringify([
        (await call('root', 'GET', '/repos')).json(),
        (await call('root', 'GET', '/users')).json(),
        (await call('root', 'GET', '/grants')).json(),
      ]);
      const res = await call('root', c.method, c.path, c.payload, c.headers);
      expectStatus(res, c.status, c.what);
      assert.match((res.json() as { message: string }).message, c.message);
      const afterwards = JSON.stringify([
        (await call('root', 'GET', '/repos')).json(),
        (await call('root', 'GET', '/users')).json(),
        (await call('root', 'GET', '/grants')).json(),
      ]);
      assert.equal(afterwards, before, 'nothing changed');
    });
  }
});

void describe('admin API with the console session cookie', () => {
  void it('works with the CSRF token, and refuses a change without it', async () => {
    const browser = new ConsoleClient(t.app);
    await browser.signIn('alice', 'alice-password');
    const headers = { cookie: browser.cookieHeader };
    const me = await call('anonymous', 'GET', '/me', undefined, headers);
    expectStatus(me, 200, 'read with the cookie');
    assert.equal(me.json().credential, 'session');
    const refused = await call('anonymous', 'POST', '/tokens', { name: 'csrf' }, headers);
    expectStatus(refused, 403, 'no CSRF token');
    assert.match(refused.json().message, /CSRF/);
    const forged = await call(
      'anonymous',
      'POST',
      '/tokens',
      { name: 'csrf' },
      { ...headers, 'x-csrf-token': 'forged' },
    );
    expectStatus(forged, 403, 'a forged CSRF token');
    const names = ((await call('alice', 'GET', '/tokens')).json().tokens as { name: string }[]).map(
      (t) => t.name,
    );
    assert.equal(names.includes('csrf'), false, 'no token was created');
    const ok = await call(
      'anonymous',
      'POST',
      '/tokens',
      { name: 'csrf' },
      { ...headers, 'x-csrf-token': browser.csrf },
    );
    expectStatus(ok, 201, 'with the CSRF token');
  });
});

void describe('OpenAPI document', () => {
  void it('lists every route with its schemas', async () => {
    const res = await call('anonymous', 'GET', '/openapi.json');
    expectStatus(res, 200, 'openapi');
    const doc = res.json() as {
      openapi: string;
      paths: Record<string, Record<string, { responses: object; requestBody?: object }>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    for (const route of API_ROUTES) {
      const path = API_PREFIX + route.path.replace(/:([a-z]+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${path} is documented`);
      assert.equal(Boolean(operation.requestBody), Boolean(route.body), `${route.method} ${path} body`);
    }
    assert.equal(Object.values(doc.paths).flatMap((p) => Object.keys(p)).length, API_ROUTES.length);
  });
});
