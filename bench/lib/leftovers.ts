/**
 * The clones of a figure's timed runs, deleted once its runs are over rather than after each one.
 *
 * Why: ext4 skips the inodes freed in the last minute when it allocates new ones, reading the
 * inode table to check each candidate, so after a 2,000-file clone is deleted every file created
 * soon after costs more. Deleting each clone right after its run made later runs slower and
 * slower (six file:// clones in a row, each deleted after: 2.5, 3.6, 4.5, 5.4, 6.1, 6.4 s, system
 * time 2.1 -> 6.9 s, perf: ext4's `recently_deleted`; kept instead: 3.1, 2.6, 2.4, 2.2, 2.0,
 * 2.3 s), which made figure 6's clone runs range from 3 to 7 s on either side.
 * Clones of a few large files go at once: they free few inodes and take much disk.
 */
import { rm } from 'node:fs/promises';

/** clones with more files than this are kept until `removeAll` */
const MANY_FILES = 100;

export class Leftovers {
  private readonly paths: string[] = [];

  /** a clone of `files` files whose run is over */
  async cloneDone(path: string, files: number): Promise<void> {
    if (files > MANY_FILES) this.paths.push(path);
    else await rm(path, { recursive: true, force: true });
  }

  async removeAll(): Promise<void> {
    for (const path of this.paths.splice(0)) await rm(path, { recursive: true, force: true });
  }
}
