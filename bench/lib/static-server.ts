/**
 * The download baseline: a static file server over the same files lfsd serves. nginx with
 * sendfile when it is installed (run as a child with a generated config in a temp dir), else a
 * minimal Node server (createReadStream, 1 MiB reads); `kind` says which one ran.
 */
import { spawn } from 'node:child_process';
import { nginxInstalled, nginxVersion, startNginx } from '../../test/helpers/nginx.js';
import { freePort, ownChild, stopChild, waitForPort } from './processes.js';

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
  if (!options.preferNode && nginxInstalled()) return startNginxStatic(root);
  return startNodeStatic(root);
}

async function startNginxStatic(root: string): Promise<StaticServer> {
  const nginx = await startNginx(
    (port) => `server { listen 127.0.0.1:${port}; root ${root}; location / { } }`,
  );
  return {
    url: nginx.url,
    kind: `${nginxVersion()} with sendfile`,
    pid: nginx.process.pid!,
    stop: () => nginx.stop(),
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
