// Credentials at rest (issue 3): after users, passwords and tokens were created with the real
// command line and used against a running server, no file in the data dir (the SQLite database,
// its WAL and shared memory, objects, temp files, the server secret) holds a password or a token
// in clear text, nor the Basic header that carried it; and the server's log lines do not either.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load-settings.js';
import { openMetadata } from '../../src/server/build-deps.js';
import { LFS_JSON } from '../helpers/content.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';

interface Secret {
  what: string;
  user: string;
  value: string;
}

/** every form a secret could be written in: as is, and inside an HTTP Basic header */
function formsOf({ user, value }: Secret): Buffer[] {
  return [Buffer.from(value), Buffer.from(Buffer.from(`${user}:${value}`).toString('base64'))];
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

describe('secrets at rest', { timeout: 120_000 }, () => {
  let dataDir: string;
  let server: LfsdServer | undefined;
  const secrets: Secret[] = [];
  const tokenHashes: string[] = [];
  /** the batch status each secret got, by scheme */
  const batchStatuses: Record<string, { Basic?: number; Bearer?: number }> = {};
  let uploadsStored = 0;

  const admin = (args: string[], input?: string) => lfsdAdmin([...args, '--data-dir', dataDir], { input });
  const password = () => `pw-${randomBytes(12).toString('base64url')}`;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-secrets-'));
    const alicePassword = password();
    const aliceNewPassword = password();
    const bobPassword = password();
    await admin(['user', 'add', 'alice', '--password-stdin'], `${alicePassword}\n`);
    await admin(['user', 'add', 'bob', '--password-stdin', '--admin'], `${bobPassword}\n`);
    await admin(['user', 'add', 'twin', '--password-stdin'], `${bobPassword}\n`); // same password, other user
    await admin(['user', 'passwd', 'alice'], `${aliceNewPassword}\n`);
    const aliceToken = (await admin(['token', 'create', 'alice', '--name', 'laptop'])).trim();
    const bobToken = (await admin(['token', 'create', 'bob', '--name', 'ci', '--expires-in', '30d'])).trim();
    const revokedToken = (await admin(['token', 'create', 'bob', '--name', 'old'])).trim();
    const revokedId = (await admin(['token', 'list', 'bob']))
      .split('\n')
      .find((l) => l.includes('\told\t'))
      ?.split('\t')[0];
    await admin(['token', 'revoke', 'bob', revokedId!]);
    secrets.push(
      { what: "alice's first password", user: 'alice', value: alicePassword },
      { what: "alice's password", user: 'alice', value: aliceNewPassword },
      { what: "bob's password", user: 'bob', value: bobPassword },
      { what: "alice's token", user: 'alice', value: aliceToken },
      { what: "bob's token", user: 'bob', value: bobToken },
      { what: "bob's revoked token", user: 'bob', value: revokedToken },
      { what: 'a wrong password someone tried', user: 'alice', value: password() },
    );
    for (const token of [aliceToken, bobToken, revokedToken])
      tokenHashes.push(createHash('sha256').update(token).digest('hex'));

    // use every credential (and the wrong one) against a running server, so it has every chance to
    // write them somewhere: the WAL, a cache file, a log in the data dir
    server = await startLfsd(['--data-dir', dataDir, '--log-level', 'debug']);
    const content = randomBytes(1000);
    const oid = createHash('sha256').update(content).digest('hex');
    for (const secret of secrets) {
      for (const [scheme, authorization] of [
        ['Basic', `Basic ${Buffer.from(`${secret.user}:${secret.value}`).toString('base64')}`],
        ['Bearer', `Bearer ${secret.value}`],
      ] as const) {
        const res = await fetch(`${server.url}/alice/assets.git/info/lfs/objects/batch`, {
          method: 'POST',
          headers: { authorization, accept: LFS_JSON, 'content-type': LFS_JSON },
          body: JSON.stringify({ operation: 'upload', objects: [{ oid, size: content.length }] }),
        });
        (batchStatuses[secret.what] ??= {})[scheme] = res.status;
        const body = (await res.json()) as {
          objects?: Array<{ actions?: Record<string, { href: string; header: Record<string, string> }> }>;
        };
        const upload = body.objects?.[0]?.actions?.upload;
        if (upload) {
          const put = await fetch(upload.href, { method: 'PUT', headers: upload.header, body: content });
          assert.equal(put.status, 200);
          uploadsStored++;
        }
      }
    }
  });

  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** which secrets appear in which file, in any form */
  async function findSecrets(): Promise<string[]> {
    const found: string[] = [];
    for (const file of await filesUnder(dataDir)) {
      const bytes = await readFile(file);
      for (const secret of secrets) {
        if (formsOf(secret).some((form) => bytes.includes(form))) found.push(`${secret.what} in ${file}`);
      }
    }
    return found;
  }

  async function tokenHashesFound(): Promise<number> {
    const files = await Promise.all((await filesUnder(dataDir)).map((f) => readFile(f)));
    return tokenHashes.filter((hash) => files.some((bytes) => bytes.includes(hash))).length;
  }

  it('every credential got the answer it should: current ones 200, old, wrong and revoked ones 401', () => {
    assert.deepEqual(batchStatuses, {
      "alice's first password": { Basic: 401, Bearer: 401 },
      // a password is only ever checked with its user name, which a Bearer header does not carry
      "alice's password": { Basic: 200, Bearer: 401 },
      "bob's password": { Basic: 200, Bearer: 401 },
      "alice's token": { Basic: 200, Bearer: 200 },
      "bob's token": { Basic: 200, Bearer: 200 },
      "bob's revoked token": { Basic: 401, Bearer: 401 },
      'a wrong password someone tried': { Basic: 401, Bearer: 401 },
    });
    assert.ok(uploadsStored >= 1, 'at least one upload was stored');
  });

  it('the data dir holds no password or token in clear text while the server runs (database, WAL and all)', async () => {
    const files = await filesUnder(dataDir);
    for (const name of ['lfsd.sqlite', 'lfsd.sqlite-wal']) {
      assert.ok(
        files.some((f) => f.endsWith(`/${name}`)),
        `${name} is in the data dir: ${files.join(', ')}`,
      );
    }
    // the search does read the database: what IS stored for each token (its SHA-256) is found
    assert.equal(
      await tokenHashesFound(),
      tokenHashes.length,
      'token hashes are found, so the search reads the database',
    );
    assert.deepEqual(await findSecrets(), []);
  });

  it('nor after the server stopped (WAL checkpointed into the database)', async () => {
    assert.equal(await server!.stop(), 0);
    assert.equal(await tokenHashesFound(), tokenHashes.length);
    assert.deepEqual(await findSecrets(), []);
  });

  it("nor the server's log lines", () => {
    const logs = JSON.stringify(server!.logs);
    assert.ok(server!.logs.length > secrets.length, 'requests were logged');
    for (const secret of secrets) {
      for (const form of formsOf(secret))
        assert.ok(!logs.includes(form.toString()), `${secret.what} in the log`);
    }
  });

  it('passwords are argon2id hashes with a salt of their own; the server secret is private to its owner', async () => {
    const metadata = await openMetadata(loadSettings({ env: {}, flags: { dataDir } }));
    try {
      const bob = await metadata.findUserByName('bob');
      const twin = await metadata.findUserByName('twin');
      assert.match(
        bob!.passwordHash!,
        /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
      );
      assert.notEqual(
        bob!.passwordHash,
        twin!.passwordHash,
        'the same password hashes differently for two users',
      );
    } finally {
      await metadata.close();
    }
    const mode = (await stat(join(dataDir, 'secret'))).mode & 0o777;
    assert.equal(mode & 0o077, 0, `secret file mode ${mode.toString(8)} is not readable by others`);
  });
});
