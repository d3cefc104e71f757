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
  const generated = ssh2.utils.generateKeyPairSync('ed25519');
  try {
    // 'wx': another process starting at the same moment keeps its key, and this one reads it
    writeFileSync(path, generated.private, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readKey(path, 'generated host key');
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
