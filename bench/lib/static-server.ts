/**
 * The download baseline: a static file server over the same files lfsd serves. nginx with
 * sendfile when it is installed (run as a child with a generated config in a temp dir), else a
 * minimal Node server (createReadStream, 1 MiB reads); `kind` says which one ran.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, makeTempDir, ownChild, stopChild, waitForPort } from './processes.js';

export const NGINX = '/usr/sbin/nginx';

export interface StaticServer {
  /** `http://127.0.0.1:<port>`; a file `<root>/a/b` is at `<url>/a/b` */
  url: string;
  kind: string;
  /** the process serving (nginx runs as one process: master_process off) */
  pid: number;
  stop(): Promise<void>;
}

export async function startStaticServer(
  root: string,
  options: { preferNode?: boolean } = {},
): Promise<StaticServer> {
  if (!options.preferNode && existsSync(NGINX)) return startNginx(root);
  return startNodeStatic(root);
}

async function startNginx(root: string): Promise<StaticServer> {
  const dir = await makeTempDir('lfsd-bench-nginx-');
  const port = await freePort();
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
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`,
  );
  const child = ownChild(
    spawn(NGINX, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit').then(() => {
    throw new Error(`nginx exited: ${stderr}`);
  });
  await Promise.race([waitForPort(port), exited]);
  exited.catch(() => undefined);
  return {
    url: `http://127.0.0.1:${port}`,
    kind: `${nginxVersion()} with sendfile`,
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

/** The fallback, in its own process like nginx and lfsd (so it does not share the client's event loop). */
const NODE_STATIC = String.raw`
const { createReadStream, statSync } = require('node:fs');
const http = require('node:http');
const { join, normalize } = require('node:path');
const root = process.env.STATIC_ROOT;
http
  .createServer((request, response) => {
    const path = normalize(join(root, decodeURIComponent(new URL(request.url, 'http://x').pathname)));
    let size;
    try {
      if (!path.startsWith(root)) throw new Error('outside');
      size = statSync(path).size;
    } catch {
      return response.writeHead(404).end();
    }
    const match = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range || '');
    let start = 0;
    let end = size - 1;
    if (match) {
      if (match[1] === '') start = Math.max(0, size - Number(match[2]));
      else {
        start = Number(match[1]);
        if (match[2] !== '') end = Math.min(end, Number(match[2]));
      }
      response.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': 'bytes ' + start + '-' + end + '/' + size });
    } else {
      response.writeHead(200, { 'Content-Length': size });
    }
    createReadStream(path, { start, end, highWaterMark: 1024 * 1024 }).pipe(response);
  })
  .listen(Number(process.env.STATIC_PORT), '127.0.0.1');
`;

async function startNodeStatic(root: string): Promise<StaticServer> {
  const port = await freePort();
  const child = ownChild(
    spawn(process.execPath, ['-e', NODE_STATIC], {
      env: { ...process.env, STATIC_ROOT: root, STATIC_PORT: String(port) },
      stdio: 'ignore',
    }),
  );
  await waitForPort(port);
  return {
    url: `http://127.0.0.1:${port}`,
    kind: 'minimal Node static server (createReadStream, 1 MiB reads; nginx not used)',
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

export function nginxVersion(): string {
  if (!existsSync(NGINX)) return 'nginx not installed';
  const out = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return (out.stderr || out.stdout).trim().replace(/^nginx version: /, '');
}
