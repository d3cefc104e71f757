import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RuleViolation } from '../../src/rules.js';
import { parsePublicKey } from '../../src/ssh/public-key.js';

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function rsaLine(bits: number): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const jwk = publicKey.export({ format: 'jwk' });
  const mpint = (b64: string) => {
    const raw = Buffer.from(b64, 'base64url');
    return sshString((raw[0] as number) & 0x80 ? Buffer.concat([Buffer.alloc(1), raw]) : raw);
  };
  const blob = Buffer.concat([sshString('ssh-rsa'), mpint(jwk.e as string), mpint(jwk.n as string)]);
  return `ssh-rsa ${blob.toString('base64')} me@host`;
}

void describe('OpenSSH public keys', () => {
  void it('parses keys of every accepted type with the fingerprint ssh-keygen prints', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lfsd-keys-'));
    try {
      for (const [type, bits] of [
        ['ed25519', ''],
        ['ecdsa', '256'],
        ['ecdsa', '521'],
        ['rsa', '3072'],
      ] as const) {
        const file = join(dir, `${type}${bits}`);
        execFileSync('ssh-keygen', [
          '-q',
          '-t',
          type,
          ...(bits ? ['-b', bits] : []),
          '-N',
          '',
          '-C',
          'a b',
          '-f',
          file,
        ]);
        const line = readFileSync(`${file}.pub`, 'utf8');
        const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], {
          encoding: 'utf8',
        }).split(' ')[1];
        const key = parsePublicKey(line);
        assert.equal(key.fingerprint, expected);
        assert.equal(key.type, line.split(' ')[0]);
        assert.equal(key.comment, 'a b');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('accepts RSA keys of 2048 bits, refuses 1024', () => {
    assert.equal(parsePublicKey(rsaLine(2048)).type, 'ssh-rsa');
    assert.throws(() => parsePublicKey(rsaLine(1024)), /at least 2048 bits \(this one has 1024\)/);
  });

  void it('refuses what is not one accepted key', () => {
    const ed = `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(32, 7))]).toString('base64')}`;
    assert.equal(parsePublicKey(ed).comment, undefined);
    for (const line of [
      '',
      'ssh-ed25519',
      'ssh-ed25519 not*base64',
      ed.replace('ssh-ed25519 ', 'ssh-rsa '),
      `ssh-dss ${Buffer.concat([sshString('ssh-dss'), sshString('x')]).toString('base64')}`,
      `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(31))]).toString('base64')}`,
      `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(32)), Buffer.alloc(1)]).toString('base64')}`,
      `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519')]).toString('base64')}`,
    ]) {
      assert.throws(() => parsePublicKey(line), RuleViolation, JSON.stringify(line));
    }
  });
});
