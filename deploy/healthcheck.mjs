#!/usr/bin/env node
// Container health check (Dockerfile HEALTHCHECK): exit 0 when lfsd answers GET /healthz.
// Asks the metrics listener (LFSD_METRICS_LISTEN) when set, else the main listener (LFSD_LISTEN),
// over HTTPS when LFSD_TLS_CERT is set (the certificate is for clients, not checked here).
import http from 'node:http';
import https from 'node:https';

const metrics = process.env.LFSD_METRICS_LISTEN;
const listen = metrics || process.env.LFSD_LISTEN || '127.0.0.1:8080';
const tls = !metrics && Boolean(process.env.LFSD_TLS_CERT);
const at = listen.lastIndexOf(':');
let host = listen.slice(0, at).replace(/^\[|\]$/g, '');
if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
if (host === '::') host = '::1';

const request = (tls ? https : http).get(
  { host, port: Number(listen.slice(at + 1)), path: '/healthz', timeout: 2000, rejectUnauthorized: false },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', (err) => {
  console.error(`lfsd health check: ${err.message}`);
  process.exit(1);
});
