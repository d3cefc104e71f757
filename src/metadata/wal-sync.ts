/**
 * Durability of SQLite commits in WAL mode without one fsync per commit.
 *
 * The database runs with `synchronous = NORMAL`: a commit appends its frames to `<db>-wal` with
 * write() and returns, and SQLite fsyncs the WAL only at checkpoints, so an OS crash or power loss
 * can lose the last commits. An acknowledged upload must survive that (its link row is the proof
 * that the object exists), so after linking, the upload waits for an fdatasync of the WAL file.
 * fdatasync flushes the file's pages whichever descriptor (or process) wrote them, and
 * GroupedSync shares one flush among all concurrent callers: a batch of parallel uploads costs
 * about two flushes instead of one per commit (what `synchronous = FULL` would do, blocking the
 * event loop during each).
 */
import { close, fdatasync, fsync, open } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { GroupedSync } from '../durability/grouped-sync.js';

const openAsync = promisify(open);
const closeAsync = promisify(close);
const fdatasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

export class WalSync {
  readonly #group: GroupedSync;
  /**
   * The WAL, opened by the first flush and kept until close(): SQLite deletes (and later
   * recreates) the WAL only when the last connection to the database closes, and the store's
   * own connection is open until then. Opening it for every flush cost two more trips through
   * the thread pool per flush.
   */
  #wal: number | undefined;
  #closed = false;

  /** `databasePath` is the SQLite database file; its WAL is `<databasePath>-wal` */
  constructor(databasePath: string) {
    const walPath = `${databasePath}-wal`;
    let directorySynced = false;
    this.#group = new GroupedSync(async () => {
      if (this.#closed) throw new Error('the WAL sync is closed');
      this.#wal ??= await openAsync(walPath, 'r');
      await fdatasyncAsync(this.#wal);
      // the WAL's name in its directory must be durable too (once: it lives as long as our
      // connection); SQLite would do this at its first checkpoint only
      if (!directorySynced) {
        const dir = await openAsync(dirname(walPath), 'r');
        try {
          await fsyncAsync(dir);
        } finally {
          await closeAsync(dir);
        }
        directorySynced = true;
      }
    });
  }

  /** resolves once every commit made before the call is on disk */
  sync(): Promise<void> {
    return this.#group.sync();
  }

  /** flushes started so far */
  get flushes(): number {
    return this.#group.flushes;
  }

  /**
   * Closes the WAL's descriptor, before the store's connection closes: after a last flush, so
   * that no flush still uses it (a flush after this fails).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.sync().catch(() => undefined);
    this.#closed = true;
    const wal = this.#wal;
    this.#wal = undefined;
    if (wal !== undefined) await closeAsync(wal);
  }
}
