import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransferTokens, type TransferScope } from '../../src/auth/transfer-token.js';

const SECRET = 'a'.repeat(64);
const scope: TransferScope = {
  operation: 'download',
  repoPath: 'alice/game',
  oid: 'b'.repeat(64),
  size: 42,
  credential: 'p1-0',
};

describe('TransferTokens', () => {
  it('lives at least the TTL and at most one step (TTL/60) longer', () => {
    for (const start of [1_700_000_000_000, 1_700_000_059_999, 1_700_000_030_500]) {
      const tokens = new TransferTokens(SECRET, 3600, () => start);
      const { token, expiresIn } = tokens.grant(scope);
      const expiry = Number(token.split('.')[0]);
      assert.ok(expiry * 1000 >= start + 3600_000, `expiry ${expiry} vs start ${start}`);
      assert.ok(expiry * 1000 < start + 3660_000);
      assert.ok(expiresIn >= 3600 && expiresIn < 3660, `expiresIn ${expiresIn}`);
      assert.equal(expiry % 60, 0);
    }
  });

  it('gives one scope the same token within a step, and a new one in the next step', () => {
    let now = 1_700_000_000_000;
    const tokens = new TransferTokens(SECRET, 3600, () => now);
    const first = tokens.issue(scope);
    now += 1_000;
    assert.equal(tokens.issue(scope), first);
    now += 60_000;
    const next = tokens.issue(scope);
    assert.notEqual(next, first);
    assert.deepEqual(tokens.verify(next, scope), { size: 42, credential: 'p1-0' });
    assert.deepEqual(
      tokens.verify(first, scope),
      { size: 42, credential: 'p1-0' },
      'the earlier token is still valid',
    );
  });

  it('remembered signatures are the scope’s own: each field changes the token', () => {
    const tokens = new TransferTokens(SECRET, 3600, () => 1_700_000_000_000);
    const base = tokens.issue(scope);
    const variants: TransferScope[] = [
      { ...scope, operation: 'upload' },
      { ...scope, repoPath: 'alice/other' },
      { ...scope, oid: 'c'.repeat(64) },
      { ...scope, size: 43 },
      { ...scope, credential: 't1' },
    ];
    const issued = variants.map((v) => tokens.issue(v));
    assert.equal(new Set([base, ...issued]).size, 6);
    // asked again after every variant (one oid with another size among them): the same tokens
    assert.equal(tokens.issue(scope), base);
    assert.deepEqual(
      variants.map((v) => tokens.issue(v)),
      issued,
    );
    variants.forEach((v, i) => {
      // size and credential are carried by the token and answered by verify; the rest must match
      const opened = tokens.verify(issued[i]!, scope);
      const carried = { size: v.size, credential: v.credential };
      if (v.size === scope.size && v.credential === scope.credential)
        assert.equal(opened, undefined, `token for ${JSON.stringify(v)} opened scope`);
      else assert.deepEqual(opened, carried);
      assert.deepEqual(tokens.verify(issued[i]!, v), carried);
      // neither carried field can be changed without breaking the signature
      const [expiry, size, credential, mac] = issued[i]!.split('.');
      assert.equal(
        tokens.verify(`${expiry}.${size}.${credential === 'a' ? 't9' : 'a'}.${mac}`, v),
        undefined,
      );
      assert.equal(tokens.verify(`${expiry}.${Number(size) + 1}.${credential}.${mac}`, v), undefined);
    });
    // a token from the memo verifies against a fresh instance with the same secret (nothing is
    // remembered that the signature does not carry)
    const clock = () => 1_700_000_000_000;
    assert.ok(new TransferTokens(SECRET, 3600, clock).verify(tokens.issue(scope), scope));
    assert.equal(new TransferTokens('z'.repeat(64), 3600, clock).verify(base, scope), undefined);
  });

  it('short TTLs step by whole seconds', () => {
    const tokens = new TransferTokens(SECRET, 2, () => 1_700_000_000_400);
    const { token, expiresIn } = tokens.grant(scope);
    assert.equal(Number(token.split('.')[0]), 1_700_000_003);
    assert.equal(expiresIn, 2);
  });

  it('refuses an expired token', () => {
    let now = 1_700_000_000_000;
    const tokens = new TransferTokens(SECRET, 60, () => now);
    const token = tokens.issue(scope);
    now += 62_000;
    assert.equal(tokens.verify(token, scope), undefined);
  });

  it('verifies its own remembered tokens and still refuses anything else', () => {
    const tokens = new TransferTokens(SECRET, 3600, () => 1_700_000_000_000);
    const token = tokens.issue(scope);
    assert.deepEqual(tokens.verify(token, scope), { size: 42, credential: 'p1-0' });
    // another process with the same key issued it: no remembered token, the HMAC decides
    const other = new TransferTokens(SECRET, 3600, () => 1_700_000_000_000);
    assert.deepEqual(other.verify(token, scope), { size: 42, credential: 'p1-0' });
    // the remembered token of this scope does not open another one
    assert.equal(tokens.verify(token, { ...scope, oid: 'c'.repeat(64) }), undefined);
    assert.equal(tokens.verify(token, { ...scope, operation: 'upload' }), undefined);
    assert.equal(tokens.verify(token, { ...scope, repoPath: 'alice/other' }), undefined);
    // a changed signature, size or credential next to a remembered token is refused
    const [expiry, size, credential, mac] = token.split('.') as [string, string, string, string];
    const flipped = (mac[0] === 'A' ? 'B' : 'A') + mac.slice(1);
    assert.equal(tokens.verify(`${expiry}.${size}.${credential}.${flipped}`, scope), undefined);
    assert.equal(tokens.verify(`${expiry}.43.${credential}.${mac}`, scope), undefined);
    assert.equal(tokens.verify(`${expiry}.${size}.p2-0.${mac}`, scope), undefined);
    // a key that differs refuses it, remembered or not
    assert.equal(
      new TransferTokens('b'.repeat(64), 3600, () => 1_700_000_000_000).verify(token, scope),
      undefined,
    );
  });
});
