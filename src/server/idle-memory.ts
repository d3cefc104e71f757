/**
 * Gives memory back once the process has gone quiet: after a burst of transfers, and after start.
 *
 * V8 frees the buffers of finished transfers (tens of MB after a few concurrent downloads: each
 * reads into buffers of up to 2 MiB) only at its next garbage collection, and a process that has
 * gone idle runs none until V8's memory reducer acts, which bench figure 5 saw take more than 45 s.
 * And on Node 24 (V8 13) the young generation keeps the size its busiest moment gave it (8.8 MB
 * committed, 0.7 MB used, 40 s after start and one request), where Node 20's shrinks to 0.3 MB;
 * a full collection shrinks it (idle RSS 95 -> 88 MB).
 * So when no request handler has run for a whole period and the buffer amount has stayed still
 * (by 1 MiB; SSH sessions are not request handlers, their buffers move it), no transfer is running,
 * and if either buffers past a threshold are held or the young generation is past its threshold,
 * one full collection runs: a few ms on lfsd's heap, at a time when no request waits for it. What
 * a collection leaves (buffers still in use, a young generation it did not shrink) raises the
 * thresholds, so neither causes one every period.
 */
import { getHeapSpaceStatistics } from 'node:v8';
import { v8Collector } from './v8-gc.js';

export interface IdleCollectorOptions {
  /** request handlers running now (http/in-flight.ts) */
  inFlight: () => number;
  /** request handlers started so far: none in a period, with none running, is quiet */
  started?: () => number;
  /** bytes of ArrayBuffers (Node's Buffers) alive or awaiting collection */
  arrayBuffers?: () => number;
  /** bytes V8's young generation (new space) holds from the system */
  youngGeneration?: () => number;
  /** runs a full collection; default V8's own */
  collect?: () => void;
  periodMs?: number;
}

export interface IdleCollector {
  /** collections run so far */
  readonly collections: number;
  close(): void;
}

const PERIOD_MS = 5000;
/** buffers held past what the last collection left before one is worth running */
const THRESHOLD_BYTES = 16 * 1024 * 1024;
/** a young generation this much larger than the last collection left is worth one */
const YOUNG_THRESHOLD_BYTES = 4 * 1024 * 1024;
/** a change of the amount between two ticks under which nothing counts as running */
const STILL_BYTES = 1024 * 1024;

export function collectGarbageWhenIdle(options: IdleCollectorOptions): IdleCollector {
  const arrayBuffers = options.arrayBuffers ?? (() => process.memoryUsage().arrayBuffers);
  const youngGeneration = options.youngGeneration ?? newSpaceBytes;
  let collect = options.collect;
  let collections = 0;
  /** what the last collection left, and the amount at the previous tick */
  let floor = 0;
  let youngFloor = 0;
  let previous = -1;
  let previousStarted = -1;
  const timer = setInterval(() => {
    const held = arrayBuffers();
    const started = options.started?.() ?? 0;
    // a health probe or a log line moves the amount a little; a transfer moves it by MBs
    const quiet =
      Math.abs(held - previous) < STILL_BYTES && options.inFlight() === 0 && started === previousStarted;
    previous = held;
    previousStarted = started;
    if (!quiet) return;
    if (held < floor + THRESHOLD_BYTES && youngGeneration() < youngFloor + YOUNG_THRESHOLD_BYTES) return;
    collect ??= v8Collector();
    collect();
    collections++;
    floor = previous = arrayBuffers();
    youngFloor = youngGeneration();
  }, options.periodMs ?? PERIOD_MS);
  timer.unref();
  return {
    get collections() {
      return collections;
    },
    close: () => clearInterval(timer),
  };
}

/** what V8's new space holds from the system, in bytes */
function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.physical_space_size ?? 0;
}
