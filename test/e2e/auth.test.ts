// The access model with the real `git lfs` client against `lfsd serve` (issue 3): a read-only user
// clones but cannot push, a user without access is told "Repository or object not found", an
// expired token gets a 401 while a fresh one works, and the admin commands that manage tokens and
// grants (`lfsd token create|list|revoke`, `lfsd grant`, `lfsd revoke`) take effect at once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGitSandbox, sha256File, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';

const POINTER = /^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:[0-9a-f]{64}\nsize \d+\n$/;
const PASSWORDS = {
  alice: 'alice: correct horse',
  bob: 'bob: battery staple',
  carol: 'carol: tr0ub4dor&3',
} as const;
type Name = keyof typeof PASSWORDS;

describe('git lfs client and the access model', { timeout: 300_000 }, () => {
  let server: LfsdServer;
  let sandbox: GitSandbox;
  let dataDir: string;
  let remote: string;
  const admin = (...args: string[]) => lfsdAdmin([...args, '--data-dir', dataDir]);
  const files = new Map<string, string>(); // path -> sha256
  let clones = 0;
  let credentialFiles = 0;

  /**
   * Credentials come from a file named by LFSD_TEST_CREDENTIALS, so each command can act as a
   * different user (or as nobody) in one sandbox, and a test can swap a credential mid-way. A new
   * file each time: the helper deletes it when the client rejects the credentials.
   */
  async function as(user: Name | undefined, secret?: string): Promise<NodeJS.ProcessEnv> {
    const file = join(sandbox.root, `credentials-${++credentialFiles}-${user ?? 'nobody'}`);
    await writeFile(file, user ? `username=${user}\npassword=${secret ?? PASSWORDS[user]}\n` : '');
    return { LFSD_TEST_CREDENTIALS: file };
  }

  /** A clone with pointers only (no LFS download yet), for `git lfs pull` to fill. */
  async function pointerClone(): Promise<string> {
    const dir = `clone-${++clones}`;
    await sandbox.git(sandbox.root, ['clone', '-q', remote, dir], { GIT_LFS_SKIP_SMUDGE: '1' });
    return join(sandbox.root, dir);
  }

  /** Runs git expecting it to fail; resolves with what it printed. */
  async function gitFails(cwd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
    try {
      await sandbox.git(cwd, args, env);
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail(`git ${args.join(' ')} succeeded`);
  }

  /**
   * Statuses of the server's requests on `route` since log line `start`. The log lines arrive
   * through a pipe after the responses, so first wait until they stop coming.
   */
  async function statusesSince(start: number, route: string): Promise<Array<number | undefined>> {
    for (let quiet = 0, seen = -1, rounds = 0; quiet < 3 && rounds < 100; rounds++) {
      quiet = server.logs.length === seen ? quiet + 1 : 0;
      seen = server.logs.length;
      await sleep(50);
    }
    return server.logs
      .slice(start)
      .filter((l) => l.route === route)
      .map((l) => l.status);
  }

  before(async () => {
    sandbox = await createGitSandbox();
    dataDir = join(sandbox.root, 'lfsd-data');
    for (const name of Object.keys(PASSWORDS) as Name[]) {
      await lfsdAdmin(['user', 'add', name, '--password-stdin', '--data-dir', dataDir], {
        input: `${PASSWORDS[name]}\n`,
      });
    }
    await admin('repo', 'create', 'alice/assets');
    await admin('grant', 'bob', 'alice/assets', 'read');
    server = await startLfsd(['--data-dir', dataDir, '--log-level', 'info']);
    await sandbox.git(sandbox.root, [
      'config',
      '--global',
      'credential.helper',
      // like a credential store: `erase` (the client rejecting credentials after a 401) forgets
      // them, so the next `get` finds none and the client gives up instead of retrying forever
      '!f() { if test "$1" = get; then cat "$LFSD_TEST_CREDENTIALS"; elif test "$1" = erase; then rm -f "$LFSD_TEST_CREDENTIALS"; fi; }; f',
    ]);

    remote = join(sandbox.root, 'remote.git');
    await sandbox.git(sandbox.root, ['init', '--bare', '-q', remote]);
    await sandbox.git(sandbox.root, ['init', '-q', 'work']);
    const work = join(sandbox.root, 'work');
    await sandbox.git(work, ['lfs', 'track', '*.bin']);
    await writeFile(join(work, '.lfsconfig'), `[lfs]\n\turl = ${server.url}/alice/assets.git/info/lfs\n`);
    for (const [name, size] of [
      ['a.bin', 1000],
      ['b.bin', 300_000],
    ] as const) {
      await writeFile(join(work, name), randomBytes(size));
      files.set(name, await sha256File(join(work, name)));
    }
    await sandbox.git(work, ['add', '.']);
    await sandbox.git(work, ['commit', '-q', '-m', 'assets']);
    await sandbox.git(work, ['remote', 'add', 'origin', remote]);
    await sandbox.git(work, ['push', '-q', 'origin', 'main'], await as('alice'));
  });

  after(async () => {
    const code = await server?.stop();
    await sandbox?.cleanup();
    if (server) assert.equal(code, 0, 'lfsd exits 0 on SIGTERM');
  });

  it('a read-only user can clone', async () => {
    const env = await as('bob');
    const dir = `clone-${++clones}`;
    await sandbox.git(sandbox.root, ['clone', '-q', remote, dir], env);
    for (const [path, sha] of files) assert.equal(await sha256File(join(sandbox.root, dir, path)), sha, path);
  });

  it('a read-only user cannot push: the client reports an authorization error and nothing changes', async () => {
    const env = await as('bob');
    const clone = await pointerClone();
    await sandbox.git(clone, ['lfs', 'pull'], env);
    await writeFile(join(clone, 'c.bin'), randomBytes(5000));
    await sandbox.git(clone, ['add', 'c.bin']);
    await sandbox.git(clone, ['commit', '-q', '-m', 'bob adds a file']);
    const remoteHead = (await sandbox.git(remote, ['rev-parse', 'main'])).stdout;
    const start = server.logs.length;
    const output = await gitFails(clone, ['push', 'origin', 'main'], env);
    assert.match(output, /Authorization error|proper access|push access/i);
    assert.ok((await statusesSince(start, 'batch')).includes(403), 'the upload batch was refused with 403');
    assert.equal(
      (await sandbox.git(remote, ['rev-parse', 'main'])).stdout,
      remoteHead,
      'the push was stopped',
    );
    assert.ok(!server.logs.slice(start).some((l) => l.method === 'PUT'), 'no byte was uploaded');
  });

  it('a user without access gets "Repository or object not found"', async () => {
    const clone = await pointerClone();
    const start = server.logs.length;
    const output = await gitFails(clone, ['lfs', 'pull'], await as('carol'));
    assert.match(output, /Repository or object not found/);
    const statuses = await statusesSince(start, 'batch');
    assert.deepEqual(
      [...new Set(statuses)].filter((s) => s !== 401),
      [404],
      `batch statuses: ${statuses}`,
    );
    assert.match(await readFile(join(clone, 'a.bin'), 'utf8'), POINTER, 'still a pointer');
    // and a clone that smudges fails the same way
    const failed = await gitFails(
      sandbox.root,
      ['clone', '-q', remote, `clone-${++clones}`],
      await as('carol'),
    );
    assert.match(failed, /Repository or object not found/);
  });

  it('nobody at all is asked for credentials (401), and fails without them', async () => {
    const clone = await pointerClone();
    const start = server.logs.length;
    await gitFails(clone, ['lfs', 'pull'], await as(undefined));
    const statuses = await statusesSince(start, 'batch');
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 401), `batch statuses: ${statuses}`);
  });

  it('an expired token gets a 401; a fresh token works; token list shows labels and states, never secrets', async () => {
    const expiring = (
      await admin('token', 'create', 'bob', '--name', 'short-lived', '--expires-in', '1s')
    ).trim();
    assert.match(expiring, /^lfsd_[A-Za-z0-9_-]{43}$/);
    await sleep(1500);
    const clone = await pointerClone();
    const start = server.logs.length;
    const output = await gitFails(clone, ['lfs', 'pull'], await as('bob', expiring));
    assert.match(output, /401|credentials|Authentication/i);
    const statuses = await statusesSince(start, 'batch');
    assert.ok(
      statuses.length > 0 && statuses.every((s) => s === 401),
      `every batch refused with 401: ${statuses}`,
    );
    assert.match(await readFile(join(clone, 'a.bin'), 'utf8'), POINTER);

    const fresh = (await admin('token', 'create', 'bob', '--name', 'laptop', '--expires-in', '1h')).trim();
    await sandbox.git(clone, ['lfs', 'pull'], await as('bob', fresh));
    for (const [path, sha] of files) assert.equal(await sha256File(join(clone, path)), sha, path);

    for (const duration of ['0s', '99999999999w', '10x']) {
      await assert.rejects(admin('token', 'create', 'bob', '--expires-in', duration), /duration/, duration);
    }

    const listed = await admin('token', 'list', 'bob');
    assert.ok(!listed.includes(expiring) && !listed.includes(fresh), 'no secret is listed');
    const rows = listed
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    assert.deepEqual(
      rows.map(([, label, state]) => [label, state]),
      [
        ['short-lived', 'expired'],
        ['laptop', 'active'],
      ],
    );
  });

  it('`lfsd token revoke` stops a token at once', async () => {
    const token = (await admin('token', 'create', 'bob', '--name', 'to-revoke')).trim();
    const clone = await pointerClone();
    const id = (await admin('token', 'list', 'bob'))
      .split('\n')
      .map((line) => line.split('\t'))
      .find(([, label]) => label === 'to-revoke')?.[0];
    assert.ok(id);
    await admin('token', 'revoke', 'bob', id);
    assert.match(await admin('token', 'list', 'bob'), new RegExp(`^${id}\tto-revoke\trevoked\t`, 'm'));
    const start = server.logs.length;
    await gitFails(clone, ['lfs', 'pull'], await as('bob', token));
    const statuses = await statusesSince(start, 'batch');
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 401), `batch statuses: ${statuses}`);
  });

  it('`lfsd revoke` takes a grant away at once; `lfsd grant` gives write', async () => {
    await admin('revoke', 'bob', 'alice/assets');
    const clone = await pointerClone();
    assert.match(await gitFails(clone, ['lfs', 'pull'], await as('bob')), /Repository or object not found/);
    await admin('grant', 'bob', 'alice/assets', 'write');
    await sandbox.git(clone, ['lfs', 'pull'], await as('bob'));
    await writeFile(join(clone, 'd.bin'), randomBytes(4000));
    await sandbox.git(clone, ['add', 'd.bin']);
    await sandbox.git(clone, ['commit', '-q', '-m', 'bob may write now']);
    await sandbox.git(clone, ['push', '-q', 'origin', 'main'], await as('bob'));
  });
});
