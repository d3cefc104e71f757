/**
 * fsck (issue 14, README "Storage lifecycle"): re-reads every stored object (or those one
 * repository links), streaming it through SHA-256, and checks size and hash against its oid, and
 * that every linked object has content. `repair` moves corrupt content aside (the store's
 * quarantine: never deleted) and marks missing or corrupt objects broken, so download batches
 * answer 404 for them and the next upload batch asks for the bytes again (a re-push heals).
 */
import { createHash } from 'node:crypto';
import { mapLimit } from '../lfs/map-limit.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { ObjectStore } from '../storage/object-store.js';

const PAGE = 200;

export interface FsckOptions {
  /** only the objects this repository links */
  repoId?: number;
  repair?: boolean;
  /** objects hashed at once (default 2) */
  concurrency?: number;
  onProgress?(progress: { objects: number; bytes: number }): void;
}

export interface FsckProblem {
  oid: string;
  size: number;
  problem: 'missing' | 'corrupt';
  /** what was found: the stored size and SHA-256 */
  detail?: string;
  /** repositories that link it */
  repos: string[];
  /** with repair: where the corrupt content went (undefined when missing) */
  quarantined?: string;
  repaired: boolean;
}

export interface FsckReport {
  checked: { objects: number; bytes: number };
  problems: FsckProblem[];
  repaired: number;
  seconds: number;
}

export async function runFsck(
  metadata: MetadataStore,
  store: ObjectStore,
  options: FsckOptions = {},
): Promise<FsckReport> {
  const started = Date.now();
  const lifecycle = metadata.lifecycle;
  const report: FsckReport = { checked: { objects: 0, bytes: 0 }, problems: [], repaired: 0, seconds: 0 };
  if (options.repair && !store.capabilities.has('quarantine')) {
    throw new Error(`storage ${store.kind} cannot quarantine content: fsck --repair is not available`);
  }
  for (let after = ''; ;) {
    const rows = await lifecycle.objectsPage(after, PAGE, options.repoId);
    if (rows.length === 0) break;
    after = rows.at(-1)!.oid;
    await mapLimit(rows, options.concurrency ?? 2, async (row) => {
      const found = await check(store, row.oid, row.size);
      report.checked.objects++;
      report.checked.bytes += found.bytes;
      options.onProgress?.(report.checked);
      if (found.ok) return;
      const repos = await lifecycle.linkingRepos(row.oid);
      // an unlinked row without content is a leftover for gc, not damage
      if (found.problem === 'missing' && repos.length === 0) return;
      const problem: FsckProblem = {
        oid: row.oid,
        size: row.size,
        problem: found.problem,
        detail: found.detail,
        repos,
        repaired: false,
      };
      if (options.repair) {
        if (found.problem === 'corrupt') problem.quarantined = await store.quarantine!(row.oid);
        await lifecycle.markBroken(row.oid);
        problem.repaired = true;
        report.repaired++;
      }
      report.problems.push(problem);
    });
  }
  report.problems.sort((a, b) => (a.oid < b.oid ? -1 : 1));
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

type CheckResult =
  { ok: true; bytes: number } | { ok: false; bytes: number; problem: 'missing' | 'corrupt'; detail?: string };

async function check(store: ObjectStore, oid: string, size: number): Promise<CheckResult> {
  const found = await store.get(oid);
  if (!found) return { ok: false, bytes: 0, problem: 'missing' };
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of found.body) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  const digest = hash.digest('hex');
  if (bytes === size && digest === oid) return { ok: true, bytes };
  return { ok: false, bytes, problem: 'corrupt', detail: `${bytes} bytes with SHA-256 ${digest}` };
}
