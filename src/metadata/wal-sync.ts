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
import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GroupedSync } from '../durability/grouped-sync.js';

export class WalSync {
  readonly #group: GroupedSync;

  /** `databasePath` is the SQLite database file; its WAL is `<databasePath>-wal` */
  constructor(databasePath: string) {
    const walPath = `${databasePath}-wal`;
    let directorySynced = false;
    // opened for each flush: SQLite may delete and recreate the WAL (when the last connection to
    // the database closes), and a descriptor kept open would then flush a deleted file
    this.#group = new GroupedSync(async () => {
      const handle = await open(walPath, 'r');
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
      // the WAL's name in its directory must be durable too (once: it lives as long as our
      // connection); SQLite would do this at its first checkpoint only
      if (!directorySynced) {
        const dir = await open(dirname(walPath), 'r');
        try {
          await dir.sync();
        } finally {
          await dir.close();
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
}
