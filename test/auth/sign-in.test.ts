/**
 * Password sign-ins (issue 11 items 3 and 4): every failure costs one password hash whoever the
 * user is; failures are limited per user name and per client address with 429 + Retry-After,
 * the same answer for a user who exists and one who does not, and nothing verified past the
 * limit; passwords are hashed with argon2id and older hashes are upgraded on a successful sign-in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import {
  ARGON2_PARAMS,
  hashPassword,
  legacyScryptHash,
  verifyPassword,
} from '../../src/auth/password-hash.js';
import { LFS_JSON } from '../../src/http/lfs-json.js';
import { addUser, basicAuth, createTestApp, type TestApp } from '../helpers/test-app.js';

const REPO = 'team/assets';

/** a test app with a public repository every signed-in (or anonymous) caller may download from */
async function createApp(overrides: Record<string, unknown> = {}): Promise<TestApp> {
  const t = await createTestApp(overrides);
  await t.deps.metadata.createRepo(REPO, { isPublic: true });
  return t;
}

async function counter(t: TestApp, name: 'passwordChecks' | 'signIns', labels?: Record<string, string>) {
  const { values } = await t.deps.metrics[name].get();
  return values
    .filter(
      (v) =>
        !labels || Object.entries(labels).every(([k, l]) => (v.labels as Record<string, string>)[k] === l),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

/** a batch request, from `address` when the app trusts one proxy */
function batch(t: TestApp, authorization: string, address = '198.51.100.1'): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: `/${REPO}.git/info/lfs/objects/batch`,
    headers: {
      accept: LFS_JSON,
      'content-type': LFS_JSON,
      authorization,
      'x-forwarded-for': address,
    },
    payload: JSON.stringify({ operation: 'download', objects: [] }),
  });
}

/** the parts of an answer that could tell one failure from another */
function shape(res: LightMyRequestResponse) {
  const body = res.json<{ message: string; request_id?: string }>();
  return {
    status: res.statusCode,
    type: res.headers['content-type'],
    authenticate: res.headers['lfs-authenticate'],
    retryAfter: res.headers['retry-after'] === undefined ? undefined : 'set',
    message: body.message,
  };
}

void describe('sign-in: every failure costs the same', () => {
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof addUser>>;

  before(async () => {
    t = await createApp({ trustProxy: 1 });
    alice = await addUser(t.deps, 'alice');
    const dora = await addUser(t.deps, 'dora');
    await t.deps.metadata.setUserDisabled(dora.id, true);
    await t.deps.metadata.createUser({ name: 'nopass', isAdmin: false, passwordHash: null });
  });
  after(() => t.close());

  void it('checks one password hash, and answers alike, for a wrong password, an unknown, disabled or password-less user', async () => {
    const answers = [];
    for (const name of ['alice', 'nobody', 'dora', 'nopass']) {
      const before = await counter(t, 'passwordChecks');
      const res = await batch(t, basicAuth(name, 'a wrong password'));
      assert.equal(await counter(t, 'passwordChecks'), before + 1, `${name}: one password hash`);
      answers.push(shape(res));
    }
    assert.equal(answers[0]!.status, 401);
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
  });

  void it('checks the hash on every sign-in: nothing cached answers faster than the hash', async () => {
    const before = await counter(t, 'passwordChecks');
    for (let i = 0; i < 3; i++) assert.equal((await batch(t, alice.authorization)).statusCode, 200);
    assert.equal(await counter(t, 'passwordChecks'), before + 3);
  });

  void it('checks no password hash for a personal access token', async () => {
    const before = await counter(t, 'passwordChecks');
    assert.equal((await batch(t, basicAuth('alice', alice.token))).statusCode, 200);
    assert.equal((await batch(t, `Bearer ${alice.token}`)).statusCode, 200);
    assert.equal(await counter(t, 'passwordChecks'), before);
  });
});

void describe('sign-in limits', () => {
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof addUser>>;
  let bob: Awaited<ReturnType<typeof addUser>>;

  before(async () => {
    t = await createApp({ trustProxy: 1, signInFailuresPerUser: 3, signInFailuresPerAddress: 8 });
    alice = await addUser(t.deps, 'alice');
    bob = await addUser(t.deps, 'bob');
  });
  after(() => t.close());

  void it('answers 429 + Retry-After past the per-user limit, the same for an unknown user, without checking a hash', async () => {
    const wrong = (name: string) => batch(t, basicAuth(name, 'guess'), '198.51.100.10');
    for (let i = 0; i < 3; i++) {
      assert.equal((await wrong('alice')).statusCode, 401);
      assert.equal((await wrong('ghost')).statusCode, 401);
    }
    const checks = await counter(t, 'passwordChecks');
    const known = await wrong('alice');
    const unknown = await wrong('ghost');
    assert.equal(known.statusCode, 429);
    const seconds = Number(known.headers['retry-after']);
    assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= 300, `Retry-After ${seconds}`);
    assert.match(String(known.headers['content-type']), /^application\/vnd\.git-lfs\+json/);
    assert.deepEqual(shape(unknown), shape(known));
    // the right password is not even checked while the name is limited
    assert.equal((await batch(t, alice.authorization, '198.51.100.11')).statusCode, 429);
    assert.equal(await counter(t, 'passwordChecks'), checks);
    assert.equal(await counter(t, 'signIns', { method: 'password', outcome: 'limited' }), 3);
    // a token still works for the limited user; another user is not limited
    assert.equal((await batch(t, `Bearer ${alice.token}`, '198.51.100.11')).statusCode, 200);
    assert.equal((await batch(t, bob.authorization, '198.51.100.11')).statusCode, 200);
  });

  void it('limits failures per client address, across user names', async () => {
    const from = '203.0.113.7';
    // 6 failures so far from .10 (two names, 3 each); 8 allowed from one address
    for (let i = 0; i < 8; i++)
      assert.equal((await batch(t, basicAuth(`user${i}`, 'guess'), from)).statusCode, 401);
    const checks = await counter(t, 'passwordChecks');
    const res = await batch(t, basicAuth('user9', 'guess'), from);
    assert.equal(res.statusCode, 429);
    assert.ok(res.headers['retry-after']);
    // bad tokens from the limited address are refused the same way
    assert.equal((await batch(t, 'Bearer lfsd_not-a-real-token', from)).statusCode, 429);
    assert.equal((await batch(t, bob.authorization, from)).statusCode, 429);
    assert.equal(await counter(t, 'passwordChecks'), checks);
    // another address is not limited
    assert.equal((await batch(t, bob.authorization, '203.0.113.8')).statusCode, 200);
  });

  void it('caps the checks a burst of concurrent guesses gets, without holding a name for the window', async () => {
    const checks = await counter(t, 'passwordChecks');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => batch(t, basicAuth('bob', `guess ${i}`), `192.0.2.${i + 1}`)),
    );
    const statuses = answers.map((res) => res.statusCode);
    const checked = (await counter(t, 'passwordChecks')) - checks;
    // at most 3 in flight at once and 3 failures counted: never more than twice the limit
    assert.ok(checked >= 3 && checked <= 6, `${checked} checks: ${statuses.join(' ')}`);
    assert.equal(statuses.filter((s) => s === 401).length, checked, statuses.join(' '));
    for (const res of answers.filter((r) => r.statusCode === 429))
      assert.ok(Number(res.headers['retry-after']) >= 1);
    // the failures are counted now: the next guess gets the window's wait, unchecked
    const next = await batch(t, basicAuth('bob', 'one more'), '192.0.2.99');
    assert.equal(next.statusCode, 429);
    assert.ok(Number(next.headers['retry-after']) > 1);
    assert.equal(await counter(t, 'passwordChecks'), checks + checked);
  });

  void it('does not count successful sign-ins', async () => {
    const carol = await addUser(t.deps, 'carol');
    for (let i = 0; i < 6; i++)
      assert.equal((await batch(t, carol.authorization, '192.0.2.100')).statusCode, 200);
  });

  void it('lets a user with more sign-ins at once than the limit wait for a slot, none refused', async () => {
    const dave = await addUser(t.deps, 'dave');
    const checks = await counter(t, 'passwordChecks');
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => batch(t, dave.authorization, '192.0.2.101')),
    );
    assert.deepEqual(
      answers.map((res) => res.statusCode),
      Array.from({ length: 8 }, () => 200),
    );
    assert.equal((await counter(t, 'passwordChecks')) - checks, 8, 'each sign-in checked once');
    assert.equal((await batch(t, dave.authorization, '192.0.2.101')).statusCode, 200);
  });

  void it('refuses at once (Retry-After 1) a queue of sign-ins far past the limit', async () => {
    const erin = await addUser(t.deps, 'erin');
    // limit 3 per user: 3 run, 24 wait, the rest are refused without waiting
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => batch(t, erin.authorization, '192.0.2.102')),
    );
    const statuses = answers.map((res) => res.statusCode);
    assert.equal(statuses.filter((s) => s === 200).length, 27, statuses.join(' '));
    for (const res of answers.filter((r) => r.statusCode === 429))
      assert.equal(res.headers['retry-after'], '1');
  });
});

void describe('sign-in limits off', () => {
  void it('with both limits 0, failures are never refused', async () => {
    const t = await createApp({ signInFailuresPerUser: 0, signInFailuresPerAddress: 0 });
    try {
      await addUser(t.deps, 'alice');
      for (let i = 0; i < 12; i++)
        assert.equal((await batch(t, basicAuth('alice', 'guess'))).statusCode, 401);
    } finally {
      await t.close();
    }
  });
});

void describe('password hashes', () => {
  void it('are argon2id with the OWASP parameters, in a PHC string', async () => {
    const hash = await hashPassword('correct horse');
    const { memoryCost: m, timeCost: t, parallelism: p } = ARGON2_PARAMS;
    assert.deepEqual([m, t, p], [19456, 2, 1]);
    assert.match(
      hash,
      new RegExp(`^\\$argon2id\\$v=19\\$m=${m},t=${t},p=${p}\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}$`),
    );
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct horse!', hash), false);
    assert.notEqual(await hashPassword('correct horse'), hash, 'a fresh salt each time');
  });

  void it('from before argon2 still verify, and are upgraded on the next successful sign-in', async () => {
    const t = await createApp();
    try {
      const legacy = await legacyScryptHash('old secret');
      const user = await t.deps.metadata.createUser({ name: 'olga', isAdmin: false, passwordHash: legacy });
      assert.equal((await batch(t, basicAuth('olga', 'wrong'))).statusCode, 401);
      assert.equal(
        (await t.deps.metadata.findUserByName('olga'))!.passwordHash,
        legacy,
        'a failure upgrades nothing',
      );
      assert.equal((await batch(t, basicAuth('olga', 'old secret'))).statusCode, 200);
      const upgraded = (await t.deps.metadata.findUserByName('olga'))!;
      assert.match(upgraded.passwordHash!, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal(upgraded.authGeneration, user.authGeneration, 'nothing granted under the password ends');
      assert.equal((await batch(t, basicAuth('olga', 'old secret'))).statusCode, 200);
      assert.equal((await batch(t, basicAuth('olga', 'wrong'))).statusCode, 401);
    } finally {
      await t.close();
    }
  });

  void it('with weaker argon2 parameters are upgraded too', async () => {
    const t = await createApp();
    try {
      const { hash } = await import('@node-rs/argon2');
      const weak = await hash('pw of weak', { memoryCost: 4096, timeCost: 1, parallelism: 1 });
      await t.deps.metadata.createUser({ name: 'wes', isAdmin: false, passwordHash: weak });
      assert.equal((await batch(t, basicAuth('wes', 'pw of weak'))).statusCode, 200);
      assert.match(
        (await t.deps.metadata.findUserByName('wes'))!.passwordHash!,
        /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/,
      );
    } finally {
      await t.close();
    }
  });
});
