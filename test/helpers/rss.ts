/**
 * Resident memory of a child process from /proc/<pid>/status, for tests (as bench/lib/rss.ts):
 * VmRSS now, VmHWM the peak. Writing 5 to /proc/<pid>/clear_refs resets the peak (Linux >= 4.0);
 * a sampler also polls VmRSS in case the reset is refused.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface Rss {
  rss: number;
  hwm: number;
}

export function readRss(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** true when the kernel accepted the reset of VmHWM */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const now = readRss(pid);
    return now.hwm <= now.rss * 1.01 + 4096;
  } catch {
    return false;
  }
}

/**
 * Polls VmRSS every `intervalMs` from now; `stop()` returns the peak: VmHWM when `resetPeak`
 * succeeded just before, else the largest VmRSS sampled.
 */
export function samplePeak(pid: number, intervalMs = 20): { readonly hwm: boolean; stop(): number } {
  const reset = resetPeak(pid);
  let maxSampled = readRss(pid).rss;
  const timer = setInterval(() => {
    try {
      maxSampled = Math.max(maxSampled, readRss(pid).rss);
    } catch {
      // the process is gone; stop() reports what was seen
    }
  }, intervalMs);
  return {
    /** whether the peak comes from VmHWM (reset accepted) rather than from samples alone */
    hwm: reset,
    stop() {
      clearInterval(timer);
      const now = readRss(pid);
      maxSampled = Math.max(maxSampled, now.rss);
      return reset ? Math.max(now.hwm, maxSampled) : maxSampled;
    },
  };
}
