/**
 * Garbage collection (issue 14, README "Storage lifecycle"): deletes content no repository links
 * and that was neither linked, unlinked nor offered for upload within the grace period, following
 * the mark / claim / delete protocol of metadata/lifecycle-metadata.ts, so it is safe to run while
 * replicas serve traffic. Then the leftovers of uploads that never finished: staged direct uploads
 * and incomplete S3 multipart uploads older than the grace, disk temp files, stale offers.
 *
 * Memory is bounded whatever the number of objects: store keys and database rows are read a page
 * at a time.
 */
import type { MetadataStore } from '../metadata/metadata-store.js';
import { RESERVATION_TTL_MS, TOMBSTONE_TTL_MS } from '../metadata/lifecycle-metadata.js';
import type { ObjectStore } from '../storage/object-store.js';
import { mapLimit } from '../lfs/map-limit.js';

export const DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000;
const PAGE = 500;
const DELETE_CONCURRENCY = 8;

export interface GcOptions {
  graceMs: number;
  dryRun?: boolean;
  /** each candidate (dry run) or deleted object, as it happens */
  onObject?(object: { oid: string; size: number }): void;
}

export interface GcReport {
  dryRun: boolean;
  graceSeconds: number;
  /** content deleted (or, dry run, that would be) */
  deleted: { objects: number; bytes: number };
  /** candidates that were linked or offered again before gc could claim them */
  rescued: number;
  /** object rows with no content left, forgotten */
  forgottenRows: number;
  staging: { count: number; bytes: number };
  multipartUploads: number;
  tempFiles: number;
  offersDropped: number;
  failed: number;
  seconds: number;
}

export async function runGc(
  metadata: MetadataStore,
  store: ObjectStore,
  options: GcOptions,
): Promise<GcReport> {
  if (!Number.isFinite(options.graceMs) || options.graceMs < 0) {
    throw new RangeError(`invalid grace period ${options.graceMs} ms: it must be 0 or more`);
  }
  const started = Date.now();
  const cutoff = new Date(started - options.graceMs);
  const lifecycle = metadata.lifecycle;
  const report: GcReport = {
    dryRun: Boolean(options.dryRun),
    graceSeconds: options.graceMs / 1000,
    deleted: { objects: 0, bytes: 0 },
    rescued: 0,
    forgottenRows: 0,
    staging: { count: 0, bytes: 0 },
    multipartUploads: 0,
    tempFiles: 0,
    offersDropped: 0,
    failed: 0,
    seconds: 0,
  };

  // 1. mark: stored content, a page of keys at a time
  let page: { oid: string; size: number }[] = [];
  const flush = async () => {
    const candidates = await lifecycle.candidates(page, cutoff);
    page = [];
    if (options.dryRun) {
      for (const c of candidates) {
        report.deleted.objects++;
        report.deleted.bytes += c.size;
        options.onObject?.(c);
      }
    } else {
      await lifecycle.mark(candidates, new Date());
    }
  };
  for await (const object of store.list()) {
    page.push(object);
    if (page.length >= PAGE) await flush();
  }
  await flush();

  if (!options.dryRun) {
    // ...and unlinked rows whose content is gone already (a crash, a repair): forgotten below
    for (let after = ''; ;) {
      const rows = await lifecycle.unlinkedPage(after, PAGE);
      if (rows.length === 0) break;
      after = rows.at(-1)!.oid;
      await lifecycle.mark(await lifecycle.candidates(rows, cutoff), new Date());
    }

    // 2. claim, delete, forget: a page of marks at a time
    for (let after = ''; ;) {
      const marked = await lifecycle.markedPage(after, PAGE);
      if (marked.length === 0) break;
      after = marked.at(-1)!.oid;
      const claimed = new Set(
        await lifecycle.claim(
          marked.map((m) => m.oid),
          cutoff,
        ),
      );
      report.rescued += marked.length - claimed.size;
      const done: string[] = [];
      const failed: string[] = [];
      await mapLimit(
        marked.filter((m) => claimed.has(m.oid)),
        DELETE_CONCURRENCY,
        async (m) => {
          try {
            const stored = await store.stat(m.oid);
            if (stored) {
              await store.delete(m.oid);
              report.deleted.objects++;
              report.deleted.bytes += stored.size;
              options.onObject?.({ oid: m.oid, size: stored.size });
            } else {
              report.forgottenRows++;
            }
            done.push(m.oid);
          } catch {
            failed.push(m.oid);
          }
        },
      );
      await lifecycle.finishCollection(done);
      await lifecycle.releaseClaim(failed);
      report.failed += failed.length;
    }
  }

  // 3. leftovers of uploads that never finished
  if (!options.dryRun) {
    if (store.capabilities.has('staged-upload') && store.cleanStaging) {
      report.staging = await store.cleanStaging(cutoff);
    }
    if (store.capabilities.has('multipart-cleanup') && store.abortIncompleteUploads) {
      report.multipartUploads = await store.abortIncompleteUploads(cutoff);
    }
    report.tempFiles = await cleanTempFiles(store, options.graceMs);
    await lifecycle.dropTombstones(new Date(started - TOMBSTONE_TTL_MS));
    report.offersDropped = await lifecycle.dropOffers(
      new Date(Math.min(cutoff.getTime(), started - RESERVATION_TTL_MS)),
    );
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** Temp files of uploads that died: a dead writer's, or older than the grace (ObjectStore.cleanTemp). */
async function cleanTempFiles(store: ObjectStore, graceMs: number): Promise<number> {
  if (!store.capabilities.has('temp-cleanup') || !store.cleanTemp) return 0;
  return store.cleanTemp(graceMs);
}
