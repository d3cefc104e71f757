/**
 * The one rule module (src/rules.ts), and that the ways in agree on it: a repository path the CLI
 * accepts is one the HTTP router routes, and the other way round.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLfsRoute } from '../src/http/lfs-route.js';
import {
  checkLockPath,
  checkText,
  isValidLockId,
  isValidRepoPath,
  isValidUserName,
  parseRepoPath,
  RuleViolation,
} from '../src/rules.js';
import { createTestApp, addUser } from './helpers/test-app.js';
import { lfsdCommand } from './ops/ops-helpers.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

void describe('rules: repository paths', () => {
  void it('parses what people and clients write into the canonical path', () => {
    assert.equal(parseRepoPath('alice/assets'), 'alice/assets');
    assert.equal(parseRepoPath('/alice/assets.git'), 'alice/assets'); // ssh:// remotes
    assert.equal(parseRepoPath('alice/assets.git/'), 'alice/assets');
    assert.equal(parseRepoPath('org/a/b/c/d/e/f/g'), 'org/a/b/c/d/e/f/g');
  });

  void it('refuses paths no way in could route', () => {
    const bad = [
      'team/b.git/c', // .git inside: the router strips it from the last segment only
      'a/b/c/d/e/f/g/h/i', // 9 segments
      'a//b',
      'a/../b',
      'a/..b',
      '.hidden/x',
      '-x/y',
      'a b/c',
      'ünï/x',
      '',
      '/',
      'x'.repeat(101),
      [
        'a'.repeat(100),
        'b'.repeat(100),
        'c'.repeat(100),
        'd'.repeat(100),
        'e'.repeat(100),
        'f'.repeat(10),
      ].join('/'), // 515 characters
    ];
    for (const path of bad) {
      assert.throws(() => parseRepoPath(path), RuleViolation, path);
      assert.equal(isValidRepoPath(path), false, path);
    }
    assert.throws(() => parseRepoPath(42), RuleViolation);
  });

  void it('agrees with the HTTP router on every path', () => {
    const samples = [
      'alice/assets',
      'team/b.git/c',
      'a/b/c/d/e/f/g/h',
      'a/b/c/d/e/f/g/h/i',
      'x.git',
      'a/..b',
      'A_b-c.d/e',
    ];
    for (const sample of samples) {
      const routed = parseLfsRoute(`/${sample}/info/lfs/objects/batch`)?.repoPath;
      let parsed: string | undefined;
      try {
        parsed = parseRepoPath(sample);
      } catch {
        parsed = undefined;
      }
      assert.equal(routed, parsed, sample);
    }
  });
});

void describe('rules: names, ids and text', () => {
  void it('user names are namespace segments', () => {
    for (const good of ['alice', 'A_b-c.d', '0', 'x'.repeat(100)]) assert.ok(isValidUserName(good), good);
    for (const bad of ['', 'x'.repeat(101), 'a.git', 'a..b', '.a', 'a b', 'a/b', 'zoë', 'a\u0000']) {
      assert.equal(isValidUserName(bad), false, bad);
    }
  });

  void it('`api` is reserved: no user, no repository under it, no LFS route reaches /api/...', () => {
    for (const name of ['api', 'API', 'Api']) assert.equal(isValidUserName(name), false, name);
    assert.ok(isValidUserName('apis'));
    assert.ok(isValidRepoPath('alice/api'));
    assert.equal(isValidRepoPath('api/v1'), false);
    assert.throws(() => parseRepoPath('api/v1'), RuleViolation);
    assert.equal(parseLfsRoute('/api/v1/objects/batch'), undefined);
    assert.equal(parseLfsRoute('/api/info/lfs/locks'), undefined);
  });

  void it('lock ids are positive safe integers in decimal', () => {
    for (const good of ['1', '42', '9007199254740991']) assert.ok(isValidLockId(good), good);
    for (const bad of ['0', '01', '-1', '1.5', 'abc', '9007199254740993', '', 1]) {
      assert.equal(isValidLockId(bad), false, String(bad));
    }
  });

  void it('text fields refuse control characters, lone surrogates and excess length', () => {
    assert.equal(checkText('f', 'naïve 文字 😀', 20), 'naïve 文字 😀');
    for (const bad of ['a\u0000', 'a\u001f', 'a\u007f', 'q\ud800', '\udc00q', 'x'.repeat(11)]) {
      assert.throws(() => checkText('f', bad, 10), RuleViolation, JSON.stringify(bad));
    }
    assert.throws(() => checkLockPath(''), RuleViolation);
    assert.throws(() => checkLockPath(7), RuleViolation);
  });
});

void describe('rules at the ways in', () => {
  void it('HTTP: a lock whose path or ref breaks the rules is a 422 in LFS JSON, on any dialect', async () => {
    const t = await createTestApp();
    try {
      const alice = await addUser(t.deps, 'alice');
      const lock = (body: unknown) =>
        t.app.inject({
          method: 'POST',
          url: '/alice/repo.git/info/lfs/locks',
          headers: { 'content-type': 'application/vnd.git-lfs+json', authorization: alice.authorization },
          payload: JSON.stringify(body),
        });
      for (const body of [
        { path: 'a.bin', ref: { name: 'refs/heads/\u0000' } },
        { path: 'q\ud800' },
        { path: 'x\u0001y' },
      ]) {
        const res = await lock(body);
        assert.equal(res.statusCode, 422, JSON.stringify(body));
        assert.match(res.headers['content-type'] as string, /application\/vnd\.git-lfs\+json/);
        assert.ok((res.json() as { message: string }).message.length > 0);
      }
      assert.equal((await lock({ path: 'q\ufffd' })).statusCode, 201);
    } finally {
      await t.close();
    }
  });

  void it('CLI: `lfsd repo create` refuses a path HTTP could never reach', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'lfsd-rules-'));
    try {
      for (const bad of ['team/b.git/c', 'a/b/c/d/e/f/g/h/i']) {
        const result = await lfsdCommand(['repo', 'create', bad, '--data-dir', dataDir]);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /invalid repository path/);
      }
      const ok = await lfsdCommand(['repo', 'create', '/team/game.git', '--data-dir', dataDir]);
      assert.equal(ok.code, 0, ok.stderr);
      const listed = await lfsdCommand(['repo', 'list', '--data-dir', dataDir]);
      assert.equal(listed.stdout.trim(), 'team/game');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
