/**
 * Two processes sharing one SQLite file (the embedded server and, say, an `lfsd lock` command):
 * migrating a new file at once must work, and 40 lock creates racing across both processes must
 * give exactly one winner. The child script runs under tsx from src/ and as plain JS from dist/.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';

const runningFromSource = import.meta.url.endsWith('.ts');
const childScript = fileURLToPath(
  new URL(`./sqlite-race-child.${runningFromSource ? 'ts' : 'js'}`, import.meta.url),
);

interface Outcome {
  repoId: number;
  created: string[];
  lockIds: string[];
  owners: string[];
}

/** A child process driven line by line over stdin/stdout. */
class Child {
  readonly #process: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  readonly #exit: Promise<unknown[]>;
  #stderr = '';

  constructor(args: string[]) {
    this.#process = spawn(
      process.execPath,
      [...(runningFromSource ? ['--import', 'tsx'] : []), childScript, ...args],
      {
        stdio: 'pipe',
      },
    );
    this.#process.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#exit = once(this.#process, 'exit');
    this.#lines = createInterface({ input: this.#process.stdout })[Symbol.asyncIterator]();
  }

  async readLine(): Promise<string> {
    const line = await this.#lines.next();
    if (line.done) {
      await this.#exit;
      throw new Error(`child ended early (exit ${this.#process.exitCode}): ${this.#stderr}`);
    }
    return line.value;
  }

  send(line: string): void {
    this.#process.stdin.write(`${line}\n`);
  }

  async exitCode(): Promise<number | null> {
    await this.#exit;
    if (this.#process.exitCode !== 0) assert.fail(`child failed: ${this.#stderr}`);
    return this.#process.exitCode;
  }

  kill(): void {
    if (this.#process.exitCode === null) this.#process.kill();
  }
}

/** Wait until every child says "ready", then release them together. */
async function releaseTogether(children: Child[]): Promise<void> {
  const said = await Promise.all(children.map((child) => child.readLine()));
  assert.deepEqual(
    said,
    children.map(() => 'ready'),
  );
  for (const child of children) child.send('go');
}

void describe('SQLite shared by two processes', () => {
  void it('migrates a new file from both at once and gives one winner among 40 racing lock creates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lfsd-sqlite-race-'));
    const databaseUrl = `sqlite:${join(dir, 'lfsd.db')}`;
    const children = ['alice', 'bob'].map((user) => new Child([databaseUrl, 'team/game', user, '20']));
    try {
      await releaseTogether(children); // open and migrate
      await releaseTogether(children); // race the locks
      const outcomes = (await Promise.all(children.map((child) => child.readLine()))).map(
        (line) => JSON.parse(line) as Outcome,
      );
      await Promise.all(children.map((child) => child.exitCode()));

      assert.equal(outcomes[0]?.repoId, outcomes[1]?.repoId, 'both processes see one repository');
      const winners = outcomes.flatMap((o) => o.created);
      assert.equal(winners.length, 1, `exactly one create wins, got ${JSON.stringify(outcomes)}`);
      for (const outcome of outcomes) {
        assert.deepEqual(outcome.lockIds, winners, 'every caller is answered with the winning lock');
        assert.equal(outcome.owners.length, 1);
      }

      const store = await openMetadataStore(databaseUrl);
      try {
        const repo = await store.findRepo('team/game');
        assert.ok(repo);
        const locks = await store.listLocks(repo.id, { limit: 10 });
        assert.deepEqual(
          locks.map((l) => l.id),
          winners,
        );
        assert.equal((await store.listRepos()).length, 1);
      } finally {
        await store.close();
      }
    } finally {
      for (const child of children) child.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
