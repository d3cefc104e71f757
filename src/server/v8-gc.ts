/**
 * V8's collector as a function, for the few places that decide better than V8 when garbage is worth
 * collecting (idle-memory.ts, transfer-garbage.ts). `--expose-gc` set at run time applies to contexts
 * created after it, so a new context hands the function over (as Jest does); the flag changes
 * nothing else.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** which generation to collect: `minor` is the young generation only (a scavenge) */
export type Collect = (options?: { type?: 'minor' | 'major' }) => void;

let collector: Collect | undefined;

export function v8Collector(): Collect {
  if (collector) return collector;
  const own = (globalThis as { gc?: Collect }).gc;
  if (typeof own === 'function') return (collector = own);
  setFlagsFromString('--expose-gc');
  return (collector = runInNewContext('gc') as Collect);
}
