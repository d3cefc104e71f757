/**
 * `lfsd key add|list|remove|authorized-keys` against a data dir, and the SSH key credential's
 * revocation: a removed key (or its removed user) no longer resolves to a user.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { CredentialChecker } from '../../src/auth/credentials.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { fingerprintOf } from '../../src/ssh/public-key.js';
import { lfsdAdmin } from '../helpers/lfsd-process.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';

void describe('lfsd key', () => {
  let dataDir: string;
  const run = (args: string[], input?: string) => lfsdAdmin([...args, '--data-dir', dataDir], { input });

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-keys-'));
    await run(['user', 'add', 'alice']);
    await run(['user', 'add', 'bob']);
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  void it('adds, lists, prints authorized_keys lines for, and removes keys; removal ends the credential', async () => {
    const first = ed25519KeyPair();
    const second = ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 });
    const blob = (line: string) => Buffer.from(line.split(' ')[1] as string, 'base64');

    const added = (await run(['key', 'add', 'alice', '--name', 'laptop'], `${first.public}\n`)).trim();
    const [id, fingerprint] = added.split('\t');
    assert.match(id as string, /^\d+$/);
    assert.equal(fingerprint, fingerprintOf(blob(first.public)));
    await run(['key', 'add', 'alice'], `${second.public} work key\n`);

    await assert.rejects(run(['key', 'add', 'bob'], first.public), /already registered/);
    await assert.rejects(run(['key', 'add', 'bob'], 'ssh-ed25519 AAAA'), /public key|truncated/);

    const listed = (await run(['key', 'list', 'alice'])).trim().split('\n');
    assert.equal(listed.length, 2);
    assert.deepEqual(listed[0]?.split('\t'), [id, 'laptop', 'ssh-ed25519', fingerprint, 'never']);
    assert.equal(listed[1]?.split('\t')[1], 'work key', 'the comment is the default label');
    assert.equal((await run(['key', 'list', 'bob'])).trim(), '');

    const lines = (
      await run(['key', 'authorized-keys', '--command', '/usr/bin/lfsd ssh-command --config /e/l.yaml'])
    )
      .trim()
      .split('\n');
    assert.equal(lines.length, 2);
    assert.equal(
      lines[0],
      `command="/usr/bin/lfsd ssh-command --config /e/l.yaml --user alice --key ${id}",restrict ${first.public} lfsd:alice:${id}`,
    );

    const metadata = await openMetadataStore(`sqlite:${join(dataDir, 'lfsd.sqlite')}`);
    try {
      const credentials = new CredentialChecker(metadata);
      const secondId = listed[1]?.split('\t')[0] as string;
      assert.equal((await credentials.liveUser({ kind: 'ssh-key', id: id as string }))?.name, 'alice');
      await run(['key', 'remove', 'alice', id as string]);
      assert.equal(await credentials.liveUser({ kind: 'ssh-key', id: id as string }), undefined);
      await assert.rejects(run(['key', 'remove', 'alice', id as string]), /has no SSH key/);
      assert.equal((await credentials.liveUser({ kind: 'ssh-key', id: secondId }))?.name, 'alice');
      await run(['user', 'disable', 'alice']);
      assert.equal(await credentials.liveUser({ kind: 'ssh-key', id: secondId }), undefined, 'disabled user');
      await run(['user', 'remove', 'alice']);
      assert.equal(await metadata.findSshKeyById(Number(secondId)), undefined, 'keys go with their user');
    } finally {
      await metadata.close();
    }
  });
});
