/** What every figure gets: the configuration of this run, the report, a temp root and a logger. */
import type { Report } from './report.js';

export interface BenchConfig {
  quick: boolean;
  /** measured runs per figure (each lfsd measurement paired with a baseline measurement) */
  runs: number;
  /** object size for figures 1-3 */
  bigSize: number;
  /** figure 3: the last `rangeSize` bytes */
  rangeSize: number;
  batch: {
    concurrency: number;
    objectsPerBatch: number;
    durationMs: number;
    warmupMs: number;
    maxRequests: number;
  };
  memory: { size: number; uploads: number; downloads: number; runs: number; settleMs: number };
  git: { smallFiles: number; smallFileSize: number; largeSize: number; runs: number };
  s3: { size: number };
  /** use the minimal Node static server even when nginx is installed */
  preferNodeStatic: boolean;
  /** node flags for the lfsd servers (profiling: `--cpu-prof --cpu-prof-dir=...`) */
  serverNodeArgs?: string[];
}

export interface Bench {
  config: BenchConfig;
  report: Report;
  /** temp directory for this run (data dirs, files) */
  root: string;
  log(message: string): void;
}

/** Runs `a` and `b` `runs` times, alternating which goes first, so drift hits both alike. */
export async function paired<A, B>(
  runs: number,
  a: (run: number) => Promise<A>,
  b: (run: number) => Promise<B>,
) {
  const as: A[] = [];
  const bs: B[] = [];
  for (let run = 0; run < runs; run++) {
    if (run % 2 === 0) {
      as.push(await a(run));
      bs.push(await b(run));
    } else {
      bs.push(await b(run));
      as.push(await a(run));
    }
  }
  return { a: as, b: bs };
}
