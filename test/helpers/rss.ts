/**
 * Resident memory of another process from /proc/<pid>/status: VmRSS now, VmHWM the peak. Writing
 * 5 to /proc/<pid>/clear_refs resets the peak (Linux >= 4.0), so a peak can be measured over one
 * phase; a sampler also polls VmRSS in case the reset is refused. For tests and the bench alike.
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
    return readRss(pid).hwm <= readRss(pid).rss * 1.01 + 4096;
  } catch {
    return false;
  }
}

/** Polls VmRSS every `intervalMs`; `stop()` returns the largest value seen and VmHWM. */
export function sampleRss(pid: number, intervalMs = 20): { stop(): { maxSampled: number; hwm: number } } {
  let maxSampled = readRss(pid).rss;
  const timer = setInterval(() => {
    try {
      maxSampled = Math.max(maxSampled, readRss(pid).rss);
    } catch {
      // the process is gone; stop() reports what was seen
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      let hwm = NaN;
      try {
        const now = readRss(pid);
        maxSampled = Math.max(maxSampled, now.rss);
        hwm = now.hwm;
      } catch {
        // gone
      }
      return { maxSampled, hwm };
    },
  };
}

/**
 * The peak RSS of one phase, from now until `stop()`: VmHWM when the reset was accepted, else the
 * largest VmRSS sampled every `intervalMs`.
 */
export function samplePeak(pid: number, intervalMs = 20): { readonly hwm: boolean; stop(): number } {
  const reset = resetPeak(pid);
  const sampler = sampleRss(pid, intervalMs);
  return {
    /** whether the peak comes from VmHWM (reset accepted) rather than from samples alone */
    hwm: reset,
    stop() {
      const { maxSampled, hwm } = sampler.stop();
      return reset && Number.isFinite(hwm) ? Math.max(hwm, maxSampled) : maxSampled;
    },
  };
}

/**
 * CPU time (user + system) the process and its live child processes (the workers of an
 * `lfsd serve --workers N`) have used so far, in ms (10 ms resolution).
 */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  const ticksPerSecond = 100; // USER_HZ on Linux
  const own = ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  return own + childPids(pid).reduce((sum, child) => sum + cpuMs(child), 0);
}

/** Minor page faults of the process and of its live child processes so far. */
export function minorFaults(pid: number): number {
  const own = Number(statFields(pid)[7]);
  return own + childPids(pid).reduce((sum, child) => sum + minorFaults(child), 0);
}

/** the fields of /proc/<pid>/stat after the command name: [0] is the state (field 3 in proc(5)) */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return []; // gone, or a kernel without the children file
  }
}

/** VmRSS of the process and of its live child processes (an `lfsd serve --workers N`), summed */
export function treeRss(pid: number): number {
  return readRss(pid).rss + childPids(pid).reduce((sum, child) => sum + treeRss(child), 0);
}

/**
 * What a process's resident pages are, from /proc/<pid>/smaps_rollup (Linux >= 4.14): `pss` counts
 * each page shared with other processes (Node's own executable and libraries, mapped by every
 * Node process) as its share only, so the PSS of several processes sums to the memory they use
 * together; `anon` is the process's own memory (heaps, buffers); `file` the pages of mapped files.
 */
export interface ResidentParts {
  pss: number;
  anon: number;
  file: number;
}

export function residentParts(pid: number): ResidentParts {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (text: string, name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { pss: kib(rollup, 'Pss'), anon: kib(status, 'RssAnon'), file: kib(status, 'RssFile') };
}

/** residentParts of the process and its live child processes, summed */
export function treeResidentParts(pid: number): ResidentParts {
  return childPids(pid).reduce((sum, child) => {
    const parts = treeResidentParts(child);
    return { pss: sum.pss + parts.pss, anon: sum.anon + parts.anon, file: sum.file + parts.file };
  }, residentParts(pid));
}
