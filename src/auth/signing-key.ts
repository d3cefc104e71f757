/**
 * The key lfsd signs its transfer tokens with (auth/transfer-token.ts). One rule for every source
 * (the `secret` setting from a flag, the environment, a config file or `secretFile`, and the key
 * generated into the data dir): at least 32 bytes, and not an example value lfsd itself
 * publishes. Anything else stops the start with a ConfigError saying how to make a key.
 *
 * The generated key file is created atomically: written to a temp file (0600) and synced, then
 * hard-linked to its name, which fails if the name exists. A reader sees no file or the whole
 * key, never a partial one; of two processes starting together on an empty data dir, one links
 * its key and the other finds the name taken and uses that key.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config/config-error.js';

export const MIN_SIGNING_KEY_BYTES = 32;

export const HOW_TO_GENERATE = 'generate one with `openssl rand -hex 32`';

/** what the deploy examples hold instead of a key: lfsd refuses to start with it */
const PLACEHOLDER = /^REPLACE[-_ ]?ME/i;

/** values once published as examples in lfsd's own files: anyone can sign tokens with them */
const PUBLISHED_EXAMPLES = new Set(['change-me-to-48-random-bytes-in-base64-xxxxxxxxxxxxxxx']);

/** undefined when `key` may sign tokens, else what is wrong with it (never the key itself) */
export function signingKeyProblem(key: string): string | undefined {
  if (PLACEHOLDER.test(key.trim()) || PUBLISHED_EXAMPLES.has(key.trim())) {
    return `expected a signing key, not the example placeholder of lfsd's deploy files (${HOW_TO_GENERATE})`;
  }
  const bytes = Buffer.byteLength(key);
  if (bytes < MIN_SIGNING_KEY_BYTES) {
    return `expected a signing key of at least ${MIN_SIGNING_KEY_BYTES} bytes, this one has ${bytes} (${HOW_TO_GENERATE})`;
  }
  return undefined;
}

/** `key` if it may sign tokens; else a ConfigError naming `origin` and the problem */
export function checkSigningKey(key: string, origin: string): string {
  const problem = signingKeyProblem(key);
  if (problem) throw new ConfigError(`${origin}: ${problem}`);
  return key;
}

/** the file in the data dir holding the generated key when no `secret` is set */
export function signingKeyPath(dataDir: string): string {
  return join(dataDir, 'secret');
}

/** The configured key, or the data dir's (generated on first start); refuses an unusable one. */
export async function loadSigningKey(settings: { secret?: string; dataDir: string }): Promise<string> {
  if (settings.secret !== undefined) return checkSigningKey(settings.secret, 'secret');
  return loadOrCreateKeyFile(settings.dataDir);
}

async function loadOrCreateKeyFile(dataDir: string): Promise<string> {
  const path = signingKeyPath(dataDir);
  const existing = await readKeyFile(path);
  if (existing !== undefined) return existing;
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(temp, 'wx', 0o600);
  try {
    await file.writeFile(`${key}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    // another process (a second server, an admin command) linked its key first: use that one
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError(
        `${path}: cannot create the signing key file (${(err as Error).message}); set \`secret\` instead (${HOW_TO_GENERATE})`,
      );
    }
    const theirs = await readKeyFile(path);
    if (theirs === undefined) throw new ConfigError(`${path}: vanished while lfsd created it`);
    return theirs;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDir(dataDir);
  return key;
}

/** the key in `path` (its trailing newline trimmed); undefined when there is no such file */
async function readKeyFile(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`${path}: cannot read the signing key: ${(err as Error).message}`);
  }
  const key = text.replace(/\r?\n$/, '');
  const problem = signingKeyProblem(key);
  if (problem) {
    throw new ConfigError(
      `${path}: ${problem}; replace the file's content with a key, or delete the file to have lfsd generate one (transfer links already handed out stop working)`,
    );
  }
  return key;
}

/** make the new directory entry durable (best effort: not every platform opens directories) */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot fsync a directory; the key still works, it may just not survive a power cut
  }
}
