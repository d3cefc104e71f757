/**
 * The push-then-clone scenario the scale-out tests share: a work tree with LFS files of the given
 * sizes, pushed to a local bare remote (the LFS objects go to `lfsUrl`), and clones whose files are
 * compared with the originals by SHA-256.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeRandomFile } from '../../helpers/content.js';
import { sha256File, type GitSandbox } from '../../helpers/git.js';

export interface LfsFile {
  path: string;
  size: number;
}

export interface WorkTree {
  dir: string;
  remote: string;
  /** path in the repository -> SHA-256 of its content (= oid) */
  expected: Map<string, string>;
}

export { writeRandomFile };

/** `name` (work tree) and `name.git` (bare remote) under the sandbox, with `files` committed */
export async function createWorkTree(
  sandbox: GitSandbox,
  name: string,
  files: readonly LfsFile[],
  lfsUrl: string,
): Promise<WorkTree> {
  const dir = join(sandbox.root, name);
  const remote = join(sandbox.root, `${name}.git`);
  await sandbox.git(sandbox.root, ['init', '--bare', '-q', remote]);
  await sandbox.git(sandbox.root, ['init', '-q', dir]);
  await sandbox.git(dir, ['lfs', 'track', '*.bin']);
  await writeFile(join(dir, '.lfsconfig'), `[lfs]\n\turl = ${lfsUrl}\n`);
  const expected = new Map<string, string>();
  for (const file of files) {
    await mkdir(dirname(join(dir, file.path)), { recursive: true });
    expected.set(file.path, await writeRandomFile(join(dir, file.path), file.size));
  }
  await sandbox.git(dir, ['add', '.']);
  await sandbox.git(dir, ['commit', '-q', '-m', 'assets']);
  await sandbox.git(dir, ['remote', 'add', 'origin', remote]);
  return { dir, remote, expected };
}

/** clone `tree`'s remote into `name`, its LFS objects from `lfsUrl`, and compare every file */
export async function cloneAndCompare(
  sandbox: GitSandbox,
  tree: WorkTree,
  name: string,
  lfsUrl: string,
): Promise<void> {
  const dir = join(sandbox.root, name);
  // --config lands in the clone's .git/config before checkout, above the committed .lfsconfig
  await sandbox.git(sandbox.root, ['clone', '-q', '--config', `lfs.url=${lfsUrl}`, tree.remote, dir]);
  for (const [path, sha] of tree.expected) assert.equal(await sha256File(join(dir, path)), sha, path);
}

/** `count` small files `small/fN.bin` of a few hundred bytes, and the given large ones */
export function lfsFiles(large: readonly number[], count: number): LfsFile[] {
  return [
    ...large.map((size) => ({ path: `file-${size}.bin`, size })),
    ...Array.from({ length: count }, (_, i) => ({ path: `small/f${i}.bin`, size: 100 + i })),
  ];
}
