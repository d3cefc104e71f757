/**
 * One of the processes in sqlite-cross-process.test.ts. It waits for a "go" line on stdin before
 * each phase so that the processes really run each phase at the same moment:
 *   1. open the database file (both processes migrate a new file at once), ensure the repository
 *      and create this process's user
 *   2. fire `count` concurrent createLock calls for one path, then print the outcome as JSON
 * Usage: sqlite-race-child <database-url> <repo-path> <user-name> <count>
 */
import { createInterface } from 'node:readline';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';

const [databaseUrl, repoPath, userName, countText] = process.argv.slice(2);
if (!databaseUrl || !repoPath || !userName || !countText)
  throw new Error('usage: <database-url> <repo-path> <user-name> <count>');

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

async function readyThenWaitForGo(): Promise<void> {
  process.stdout.write('ready\n');
  const line = await lines.next();
  if (line.done || line.value !== 'go') throw new Error(`expected "go", got ${JSON.stringify(line.value)}`);
}

await readyThenWaitForGo();
const store = await openMetadataStore(databaseUrl);
const repo = await store.ensureRepo(repoPath);
const user = await store.createUser({ name: userName, isAdmin: false, passwordHash: null });

await readyThenWaitForGo();
const results = await Promise.all(
  Array.from({ length: Number(countText) }, () =>
    store.createLock({ repoId: repo.id, path: 'shared/file.bin', ownerId: user.id, ref: null }),
  ),
);
const outcome = {
  repoId: repo.id,
  created: results.filter((r) => r.created).map((r) => r.lock.id),
  lockIds: [...new Set(results.map((r) => r.lock.id))],
  owners: [...new Set(results.map((r) => r.lock.ownerName))],
};
process.stdout.write(`${JSON.stringify(outcome)}\n`);
input.close();
await store.close();
