// The transfer-token signing key (issue 11 item 1): at least 32 bytes from every source, no
// example value, the generated key file created atomically, and `lfsd serve` refusing to start
// (exit 2, saying how to make a key) rather than signing with a key anyone can guess.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadSigningKey, signingKeyPath, signingKeyProblem } from '../../src/auth/signing-key.js';
import { TransferTokens } from '../../src/auth/transfer-token.js';
import { ConfigError, loadSettings } from '../../src/config/load-settings.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildDeps } from '../../src/server/build-deps.js';
import { lfsdCommand } from '../ops/ops-helpers.js';

const HOW_TO = /openssl rand -hex 32/;

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'lfsd-signing-key-'));
});
after(() => rm(root, { recursive: true, force: true }));

let dirs = 0;
/** a data dir path that does not exist yet */
function freshDir(): string {
  return join(root, `d${dirs++}`);
}

function isConfigError(...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    for (const pattern of patterns) assert.match(err.message, pattern);
    return true;
  };
}

describe('the signing key rule', () => {
  it('needs at least 32 bytes (bytes, not characters)', () => {
    assert.match(signingKeyProblem('')!, /at least 32 bytes, this one has 0/);
    assert.match(signingKeyProblem('k'.repeat(31))!, /this one has 31/);
    assert.equal(signingKeyProblem('k'.repeat(32)), undefined);
    assert.equal(signingKeyProblem('é'.repeat(16)), undefined, '16 two-byte characters are 32 bytes');
    assert.match(signingKeyProblem('é'.repeat(15))!, /this one has 30/);
    for (const key of ['', 'short']) assert.match(signingKeyProblem(key)!, HOW_TO);
  });

  it('refuses the placeholder and the example once published in deploy/kubernetes', () => {
    for (const key of [
      'REPLACE-ME-with-the-output-of-openssl-rand-hex-32',
      'replace_me_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'change-me-to-48-random-bytes-in-base64-xxxxxxxxxxxxxxx',
    ]) {
      assert.match(signingKeyProblem(key)!, /example placeholder/, key);
      assert.match(signingKeyProblem(key)!, HOW_TO);
    }
  });

  it('applies to the `secret` setting from every source, never echoing the value', async () => {
    const file = join(root, 'short-secret.yaml');
    await writeFile(file, 'secret: sixteen-bytes-xx\n');
    for (const sources of [
      { env: {}, flags: { secret: 'sixteen-bytes-xx' } },
      { env: { LFSD_SECRET: 'sixteen-bytes-xx' } },
      { env: {}, configFile: file },
    ]) {
      assert.throws(
        () => loadSettings(sources),
        isConfigError(/^secret: expected a signing key of at least 32 bytes, this one has 16/, HOW_TO),
      );
      assert.throws(
        () => loadSettings(sources),
        (err: Error) => !err.message.includes('sixteen'),
      );
    }
  });

  it('TransferTokens itself refuses a short key', () => {
    assert.throws(() => new TransferTokens('', 3600), /at least 32 bytes/);
    assert.throws(() => new TransferTokens('k'.repeat(31), 3600), /at least 32 bytes/);
  });
});

describe('the key file in the data dir', () => {
  it('is generated on first start with 32 random bytes, mode 0600, and kept', async () => {
    const dataDir = freshDir();
    const key = await loadSigningKey({ dataDir });
    assert.ok(Buffer.byteLength(key) >= 32);
    assert.equal(await readFile(signingKeyPath(dataDir), 'utf8'), `${key}\n`);
    assert.equal((await stat(signingKeyPath(dataDir))).mode & 0o777, 0o600);
    assert.equal(await loadSigningKey({ dataDir }), key, 'a restart keeps the key');
    assert.deepEqual(await readdir(dataDir), ['secret'], 'no temp file left');
    assert.notEqual(await loadSigningKey({ dataDir: freshDir() }), key);
  });

  it('an empty, short or placeholder file stops the start (and is not replaced)', async () => {
    for (const [content, pattern] of [
      ['', /this one has 0/],
      ['\n', /this one has 0/],
      ['k'.repeat(20) + '\n', /this one has 20/],
      ['REPLACE-ME-with-the-output-of-openssl-rand-hex-32\n', /example placeholder/],
    ] as const) {
      const dataDir = freshDir();
      await mkdir(dataDir, { recursive: true });
      await writeFile(signingKeyPath(dataDir), content);
      await assert.rejects(
        loadSigningKey({ dataDir }),
        isConfigError(/secret: /, pattern, HOW_TO, /delete the file/),
      );
      assert.equal(await readFile(signingKeyPath(dataDir), 'utf8'), content, 'left as it was');
    }
  });

  it('a server on a data dir with an empty key file does not start', async () => {
    const dataDir = freshDir();
    await mkdir(dataDir, { recursive: true });
    await writeFile(signingKeyPath(dataDir), '');
    const settings = loadSettings({ env: {}, flags: { dataDir, logLevel: 'silent' } });
    await assert.rejects(
      buildDeps(settings, createLogger('silent', { pretty: false }), 'http://lfsd.test'),
      isConfigError(/at least 32 bytes/),
    );
  });

  it('a configured secret is used as it is, and no file is generated', async () => {
    const dataDir = freshDir();
    const secret = 'a-configured-key-of-more-than-32-bytes';
    assert.equal(await loadSigningKey({ dataDir, secret }), secret);
    await assert.rejects(stat(signingKeyPath(dataDir)), { code: 'ENOENT' });
  });

  it('concurrent starts in one process agree on one key', async () => {
    for (let round = 0; round < 5; round++) {
      const dataDir = freshDir();
      const keys = await Promise.all(Array.from({ length: 20 }, () => loadSigningKey({ dataDir })));
      assert.equal(new Set(keys).size, 1, 'every start got the same key');
      assert.equal(await readFile(signingKeyPath(dataDir), 'utf8'), `${keys[0]}\n`);
      assert.deepEqual(await readdir(dataDir), ['secret']);
    }
  });

  it('concurrent processes agree on one key, each seeing the whole file', async () => {
    const module = fileURLToPath(new URL('../../src/auth/signing-key.js', import.meta.url));
    for (let round = 0; round < 3; round++) {
      const dataDir = freshDir();
      const script = `
        const { loadSigningKey } = await import(${JSON.stringify(module)});
        process.stdout.write(await loadSigningKey({ dataDir: ${JSON.stringify(dataDir)} }));`;
      const children = Array.from({ length: 6 }, () =>
        spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      const results = await Promise.all(
        children.map(async (child) => {
          let out = '';
          let err = '';
          child.stdout.on('data', (c: Buffer) => (out += c.toString()));
          child.stderr.on('data', (c: Buffer) => (err += c.toString()));
          // 'close', not 'exit': the output may still be in the pipe when the child exits
          const [code] = (await once(child, 'close')) as [number];
          assert.equal(code, 0, err);
          return out;
        }),
      );
      assert.equal(new Set(results).size, 1, 'every process got the same key');
      assert.ok(Buffer.byteLength(results[0]!) >= 32);
      assert.equal(await readFile(signingKeyPath(dataDir), 'utf8'), `${results[0]}\n`);
      assert.deepEqual(await readdir(dataDir), ['secret'], 'the losers removed their temp files');
    }
  });
});

describe('`lfsd serve` refuses an unusable key', () => {
  it('exits 2 with the reason and how to make a key, for a short setting and a short file', async () => {
    const dataDir = freshDir();
    const short = await lfsdCommand(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
      LFSD_SECRET: 'too-short',
    });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /configuration error: secret: expected a signing key of at least 32 bytes/);
    assert.match(short.stderr, HOW_TO);
    assert.doesNotMatch(short.stderr, /too-short/);

    await mkdir(dataDir, { recursive: true });
    await writeFile(signingKeyPath(dataDir), '');
    const empty = await lfsdCommand(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
      LFSD_SECRET: '',
    });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /configuration error: .*secret: expected a signing key of at least 32 bytes/);
    assert.match(empty.stderr, HOW_TO);
  });
});
