/**
 * Runs the real `lfsd` command line as child processes: `serve` on 127.0.0.1 with a random port,
 * and admin commands against the same data dir. Under tsx the TypeScript sources run; from the
 * compiled tree, the bundle that users run (dist/bundle/main.js, scripts/bundle.mjs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const fromSource = import.meta.url.endsWith('.ts');
const CLI = fileURLToPath(
  new URL(fromSource ? '../../src/cli/main.ts' : '../../bundle/main.js', import.meta.url),
);
const NODE_ARGS = fromSource ? ['--import', 'tsx', CLI] : [CLI];

/** node's arguments that run the lfsd command line (add the command and its options) */
export function lfsdNodeArgs(): string[] {
  return [...NODE_ARGS];
}

export interface LogLine {
  msg?: string;
  method?: string;
  status?: number;
  route?: string;
  [key: string]: unknown;
}

export interface LfsdServer {
  /** the URL clients are told to use (publicUrl) */
  url: string;
  /** where this process listens, when a proxy in front of it has the public URL */
  listenUrl: string;
  process: ChildProcess;
  /** every JSON log line the server printed so far */
  logs: LogLine[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startLfsd(args: string[], env: NodeJS.ProcessEnv = {}): Promise<LfsdServer> {
  const child = spawn(process.execPath, [...NODE_ARGS, 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const logs: LogLine[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let listenUrl = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lfsd did not start in 20 s: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as LogLine;
        logs.push(entry);
        if (entry.msg === 'lfsd listening') {
          clearTimeout(timer);
          listenUrl = `${entry.tls ? 'https' : 'http'}://${entry.listen as string}`;
          resolve(entry.publicUrl as string);
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lfsd exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    listenUrl,
    process: child,
    logs,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

/** Run an admin command (`user add alice ...`); resolves with its stdout, rejects on failure. */
export async function lfsdAdmin(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.input ?? '');
  // 'close', not 'exit': the output may still be in the pipes when the child exits
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`lfsd ${args.join(' ')} exited with ${code}: ${stderr}`);
  return stdout;
}
