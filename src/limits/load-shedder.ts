/**
 * Load shedding (`shedAtEventLoopDelay`, `shedAtDbWaiting`): when this process is overloaded,
 * new batch requests are turned away with `Retry-After` while transfers already granted go on,
 * and /readyz answers 503 so that a load balancer sends new work elsewhere.
 *
 * Overloaded means: the event loop's delay (p99 of each sample period, from perf_hooks'
 * monitorEventLoopDelay) has been past its threshold for LATE_SAMPLES periods in a row, or more
 * callers than the threshold wait for a metadata database connection (metadata/pool-meter.ts).
 * One late period alone is a single stall (a long GC pause, the process descheduled on a busy
 * host), not overload: shedding on it would turn away requests the process can serve at once. The delay is sampled on an unref'd timer
 * that `close` clears; the pool is read when asked.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export type ShedReason = 'event_loop' | 'db_pool';

export interface LoadShedderOptions {
  /** event loop delay (ms) past which we shed; 0 = never for this reason */
  eventLoopDelayMs: number;
  /** callers waiting for a database connection past which we shed; 0 = never for this reason */
  dbWaiting: number;
  /** callers waiting for a database connection now */
  poolWaiting: () => number;
  /** called with each sample of the event loop delay (seconds), for the metrics */
  onSample?: (delaySeconds: number) => void;
  /** sample period (ms) */
  sampleMs?: number;
}

const SAMPLE_MS = 500;
/** sample periods in a row past the threshold before the event loop counts as overloaded */
const LATE_SAMPLES = 2;

export class LoadShedder {
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #delayMs = 0;
  /** sample periods in a row whose delay was past the threshold */
  #lateInARow = 0;

  constructor(private readonly options: LoadShedderOptions) {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    this.#timer = setInterval(() => this.#sample(), options.sampleMs ?? SAMPLE_MS);
    this.#timer.unref();
  }

  /** p99 event loop delay of the last sample period, in ms */
  get eventLoopDelayMs(): number {
    return this.#delayMs;
  }

  /** why new work should be turned away now, or undefined when it may come */
  overloaded(): ShedReason | undefined {
    const { eventLoopDelayMs, dbWaiting } = this.options;
    if (eventLoopDelayMs > 0 && this.#lateInARow >= LATE_SAMPLES) return 'event_loop';
    if (dbWaiting > 0 && this.options.poolWaiting() > dbWaiting) return 'db_pool';
    return undefined;
  }

  /**
   * Forgets the delay measured so far. A server calls it once it listens: its own start (loading
   * modules, opening the database, sweeping temp files) blocks the event loop on a busy host, and
   * shedding on that would turn away the first requests of a process that is now idle.
   */
  forgetStartup(): void {
    this.#histogram.reset();
    this.#delayMs = 0;
    this.#lateInARow = 0;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }

  #sample(): void {
    // the histogram counts the delay past its resolution timer, in nanoseconds
    const p99 = this.#histogram.count > 0 ? this.#histogram.percentile(99) / 1e6 : 0;
    this.#histogram.reset();
    this.#delayMs = Math.max(0, p99 - 10);
    const threshold = this.options.eventLoopDelayMs;
    this.#lateInARow = threshold > 0 && this.#delayMs > threshold ? this.#lateInARow + 1 : 0;
    this.options.onSample?.(this.eventLoopDelayMs / 1000);
  }
}
