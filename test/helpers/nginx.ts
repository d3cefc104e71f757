/**
 * Runs the real nginx (Debian's, /usr/sbin/nginx) as a child with a generated config in a temp
 * dir: one process (master_process off) that the caller stops. The bench's static baseline and
 * the download-offload tests share this.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NGINX = '/usr/sbin/nginx';

export function nginxInstalled(): boolean {
  return existsSync(NGINX);
}

export function nginxVersion(): string {
  if (!nginxInstalled()) return 'nginx not installed';
  const out = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return (out.stderr || out.stdout).trim().replace(/^nginx version: /, '');
}

export interface Nginx {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  process: ChildProcess;
  /** nginx's error log so far (for assertion messages) */
  errors(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts nginx with `servers(port)` (one or more `server { }` blocks listening on
 * 127.0.0.1:`port`) inside a minimal `http { }`, on `options.port` or a free port.
 */
export async function startNginx(
  servers: (port: number) => string,
  options: { port?: number } = {},
): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'lfsd-nginx-'));
  const port = options.port ?? (await freePort());
  for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir, temp));
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 30s;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers(port)}
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(() => {
    throw new Error(`nginx exited: ${stderr}`);
  });
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port), exited]);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    process: child,
    errors: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    async stop() {
      process.off('exit', kill);
      if (child.exitCode === null && child.signalCode === null) {
        const gone = once(child, 'exit');
        child.kill('SIGQUIT');
        const timer = setTimeout(kill, 10_000);
        await gone;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it right away). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** deploy/nginx/lfsd.conf with its CHANGE values replaced: the documented config, as shipped. */
export async function lfsdNginxServer(options: {
  port: number;
  lfsdUrl: string;
  objectsDir: string;
}): Promise<string> {
  // from dist/test/helpers (compiled) or test/helpers (tsx) to the project's deploy/
  const up = import.meta.url.endsWith('.ts') ? '../../' : '../../../';
  let config = await readFile(new URL(`${up}deploy/nginx/lfsd.conf`, import.meta.url), 'utf8');
  const replacements: [string, string][] = [
    ['listen 127.0.0.1:8443;', `listen 127.0.0.1:${options.port};`],
    ['proxy_pass http://127.0.0.1:8080;', `proxy_pass ${options.lfsdUrl};`],
    ['alias /var/lib/lfsd/objects/;', `alias ${options.objectsDir.replace(/\/?$/, '/')};`],
  ];
  for (const [from, to] of replacements) {
    if (!config.includes(from)) throw new Error(`deploy/nginx/lfsd.conf no longer has "${from}"`);
    config = config.replace(from, to);
  }
  return config;
}
