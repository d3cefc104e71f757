/**
 * The built-in SSH server's host key: the `sshHostKey` file (every replica of a scale-out
 * deployment can share one), else an ed25519 key generated once into the data directory (mode
 * 0600) and reused, so that clients' known_hosts stay valid across restarts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { ConfigError } from '../config/config-error.js';

export const GENERATED_HOST_KEY = 'ssh_host_ed25519_key';

export function loadHostKey(settings: { sshHostKey?: string | undefined; dataDir: string }): Buffer {
  if (settings.sshHostKey) return readKey(settings.sshHostKey, 'sshHostKey');
  const path = join(settings.dataDir, GENERATED_HOST_KEY);
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(settings.dataDir, { recursive: true });
  try {
    // 'wx': another process starting at the same moment keeps its key, and this one reads it
    writeFileSync(path, generateEd25519(), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readKey(path, 'generated host key');
}

/**
 * A new ed25519 private key in OpenSSH format. ssh2's generator writes a public key whose first
 * byte is zero with 31 bytes (about one key in 256), which it then cannot read back: such keys
 * are thrown away.
 */
export function generateEd25519(): string {
  for (;;) {
    const { private: key } = ssh2.utils.generateKeyPairSync('ed25519');
    const parsed = ssh2.utils.parseKey(key);
    if (!(parsed instanceof Error) && !Array.isArray(parsed)) return key;
  }
}

function readKey(path: string, what: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${path}: ${(err as Error).message}`);
  }
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error || (Array.isArray(parsed) ? parsed.length === 0 : !parsed.isPrivateKey())) {
    throw new ConfigError(`${what}: ${path} is not a private SSH key lfsd can use`);
  }
  return key;
}
