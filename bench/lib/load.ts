/**
 * A bounded closed-loop load generator: `concurrency` clients, each sending the next request as
 * soon as its previous answer arrived, over keep-alive connections, for `durationMs` after a
 * `warmupMs` that is not counted, and never more than `maxRequests` requests in all.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** client `i` sends `bodies[i % bodies.length]` */
  bodies?: Buffer[];
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  maxRequests: number;
  /** per request; a slower answer counts as an error */
  timeoutMs?: number;
}

export interface LoadResult {
  /** requests answered with 200 within the measured window */
  completed: number;
  /** requests answered with 200, warm-up included */
  answered: number;
  errors: number;
  elapsedMs: number;
  /** latencies of the measured requests, ms, ascending */
  latencies: number[];
  /** CPU time of this process (the load generator) per answered request, ms */
  clientCpuPerRequest: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const target = new URL(options.url);
  const once = (body: Buffer | undefined) =>
    new Promise<number>((resolve, reject) => {
      const request = http.request(
        target,
        {
          method: options.method,
          agent,
          headers: { ...options.headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
          timeout: options.timeoutMs ?? 10_000,
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('request timed out')));
      request.on('error', reject);
      request.end(body);
    });

  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const measureFrom = started + options.warmupMs;
  const stopAt = measureFrom + options.durationMs;
  let issued = 0;
  let completed = 0;
  let answered = 0;
  let errors = 0;
  let lastEnd = measureFrom;
  const latencies: number[] = [];
  const client = async (index: number) => {
    const body = options.bodies?.[index % options.bodies.length];
    while (performance.now() < stopAt && issued < options.maxRequests) {
      issued++;
      const t0 = performance.now();
      let ok = false;
      try {
        ok = (await once(body)) === 200;
      } catch {
        // a failed or timed-out request counts as an error below
      }
      const t1 = performance.now();
      if (ok) answered++;
      if (t0 < measureFrom) continue;
      lastEnd = Math.max(lastEnd, t1);
      if (!ok) {
        errors++;
        continue;
      }
      completed++;
      latencies.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => client(i)));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const cpu = process.cpuUsage(cpu0);
  const clientCpuPerRequest = (cpu.user + cpu.system) / 1000 / Math.max(1, answered);
  return { completed, answered, errors, elapsedMs: lastEnd - measureFrom, latencies, clientCpuPerRequest };
}
