/**
 * The one schema of every lfsd setting. Each setting has a camelCase name (the config-file key),
 * an environment variable `LFSD_<SNAKE_NAME>` and a flag `--<kebab-name>`, all derived from the
 * name here, so a new setting is added in one place.
 *
 * Precedence: defaults < config file (YAML or JSON) < environment < command-line flags.
 */
// zod/mini: the same validation as zod's chained API, but only the parts used are bundled (33 KB
// instead of 582 KB), which every process pays at start, `lfsd ssh-command` too, and keeps in its
// heap (2.5 MB of resident memory, measured in a bare HTTP server). Only `z.name` accesses keep it
// small: a destructured or passed-around `z` makes esbuild bundle every export.
import * as z from 'zod/mini';
import { signingKeyProblem } from '../auth/signing-key.js';

/** zod's `preprocess`: `convert` runs on the raw value, then `schema` checks the result */
const preprocess = <T extends z.core.$ZodType>(convert: (v: unknown) => unknown, schema: T) =>
  z.pipe(z.transform(convert), schema);
const bool = preprocess(
  (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v),
  z.boolean({ error: 'expected true or false' }),
);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const expected = `expected an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}`;
  return preprocess(
    (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
    z
      .int({ error: expected })
      .check(z.minimum(min, { error: expected }), z.maximum(max, { error: expected })),
  );
};
const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.join(', ')}` });
const path = z
  .string({ error: 'expected a file path' })
  .check(z.minLength(1, { error: 'expected a file path' }));
const text = z.string({ error: 'expected a string' });
/** `text` with more checks (`check` returns a new schema) */
const textWith = (...checks: z.core.$ZodCheck<string>[]) => text.check(...checks);
const hostPort = z
  .string({ error: 'expected HOST:PORT, e.g. 127.0.0.1:8080' })
  .check(z.regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:8080'));
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

export const settingsSchema = z.strictObject({
  dataDir: z._default(path, './lfsd-data'),
  listen: z._default(hostPort, '127.0.0.1:8080'),
  /** PEM certificate chain: with tlsKey, `listen` serves HTTPS */
  tlsCert: z.optional(path),
  /** PEM private key of tlsCert */
  tlsKey: z.optional(path),
  /** separate plain-HTTP address for /metrics, /healthz and /readyz; unset: /metrics on `listen` */
  metricsListen: z.optional(hostPort),
  /**
   * bearer token for /metrics on the main listener (`Authorization: Bearer <token>`); unset:
   * /metrics there answers only loopback clients not behind a proxy. `metricsListen` is open.
   */
  metricsToken: z.optional(
    textWith(
      z.minLength(16, { error: 'expected a token of at least 16 characters (e.g. `openssl rand -hex 16`)' }),
    ),
  ),
  /** a file holding `metricsToken` */
  metricsTokenFile: z.optional(path),
  /** base URL clients reach this server at (behind a load balancer); default derived from `listen` */
  publicUrl: z.optional(httpUrl),
  /** `sqlite:PATH`, `postgres://...` or `mysql://...`; default `sqlite:<dataDir>/lfsd.sqlite` */
  databaseUrl: z.optional(
    textWith(
      z.regex(
        /^(sqlite:|postgres(ql)?:\/\/|mysql:\/\/|mariadb:\/\/)/,
        'expected sqlite:PATH, postgres://… or mysql://…',
      ),
    ),
  ),
  /** a file holding `databaseUrl` */
  databaseUrlFile: z.optional(path),
  databasePoolSize: z._default(int(1, 1000), 10),
  storage: z._default(enumOf(['disk', 's3']), 'disk'),
  s3Bucket: z.optional(textWith(z.minLength(1, { error: 'expected a bucket name' }))),
  s3Prefix: z._default(text, ''),
  s3Endpoint: z.optional(httpUrl),
  s3Region: z._default(text, 'us-east-1'),
  s3ForcePathStyle: z._default(bool, false),
  transferMode: z._default(enumOf(['proxy', 'direct']), 'proxy'),
  /** HMAC secret for transfer tokens; shared by all replicas. Default: generated into the data dir */
  secret: z.optional(
    textWith(
      z.superRefine((value, ctx) => {
        const problem = signingKeyProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    ),
  ),
  /** a file holding `secret` (a mounted Kubernetes Secret): kept out of the environment and `ps` */
  secretFile: z.optional(path),
  /** lifetime of transfer hrefs in seconds (the client re-batches 5 s before expiry) */
  transferTokenTtl: z._default(int(60), 3600),
  /**
   * lifetime of presigned S3 URLs in seconds (transferMode direct). Revoking a credential cannot
   * withdraw a presigned URL already handed out, so this is how long one may still be used.
   */
  presignedUrlTtl: z._default(int(60, 7 * 24 * 3600), 900),
  /**
   * who sends the bytes of a proxied download (storage: disk): `none`, lfsd itself;
   * `x-accel-redirect`, nginx in front of lfsd (lfsd answers with the header and nginx sends the
   * file from an `internal` location, see README "Download offload"); `x-sendfile`, a proxy that
   * sends the absolute path the header names (Apache mod_xsendfile, lighttpd)
   */
  downloadOffload: z._default(enumOf(['none', 'x-accel-redirect', 'x-sendfile']), 'none'),
  /** with x-accel-redirect: the nginx `internal` location that maps to `<dataDir>/objects/` */
  downloadOffloadPrefix: z._default(
    textWith(z.regex(/^\/(.*\/)?$/, 'expected a URL path that starts and ends with /, e.g. /_lfsd/objects/')),
    '/_lfsd/objects/',
  ),
  maxObjectSize: z._default(int(0), 100 * 1024 ** 3),
  maxBatchObjects: z._default(int(1, 100_000), 1000),
  jsonBodyLimit: z._default(int(1024), 1024 * 1024),
  logLevel: z._default(enumOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
  /** `auto`: pretty when stdout is a terminal, JSON lines otherwise */
  logFormat: z._default(enumOf(['auto', 'json', 'pretty']), 'auto'),
  /** seconds in-flight transfers may run after SIGTERM/SIGINT before they are cut and the process exits */
  shutdownTimeout: z._default(int(0), 30),
  /**
   * seconds a connection may stay silent before it is closed: a client that stalls mid-upload
   * must not hold a temp file and a socket forever (git-lfs itself gives up after 30 s)
   */
  idleTimeout: z._default(int(1), 120),
  // --- overload and abuse (src/limits, README "Limits and overload") ---
  /**
   * API requests (batch, locks, admin API) per user per `rateLimitWindow`, per client address for
   * anonymous callers; past it `429` + `Retry-After`. 0 = no limit
   */
  rateLimit: z._default(int(0), 1200),
  /** seconds of the rate limit's window */
  rateLimitWindow: z._default(int(1, 3600), 60),
  /** `redis://…`: rate limits shared by every replica and worker; unset: per process */
  redisUrl: z.optional(textWith(z.regex(/^rediss?:\/\//, 'expected redis://… or rediss://…'))),
  /** file holding redisUrl (it may carry a password) */
  redisUrlFile: z.optional(path),
  /** uploads and downloads at once in this process; more wait, then get `429` + `Retry-After`. 0 = no limit */
  maxTransfers: z._default(int(0), 512),
  /** uploads and downloads at once per user (per address for anonymous callers) in this process. 0 = no limit */
  maxTransfersPerUser: z._default(int(0), 0),
  /** seconds a transfer over the limits waits for a slot (before its body is read) before it gets `429` */
  transferQueueTimeout: z._default(int(0, 25), 5),
  /** event loop delay (ms, p99 over the last half second) past which new batch requests are shed. 0 = off */
  shedAtEventLoopDelay: z._default(int(0), 500),
  /** callers waiting for a metadata database connection past which new batch requests are shed. 0 = off */
  shedAtDbWaiting: z._default(int(0), 64),
  /** status of a shed batch request: 429 (git-lfs retries it) or 503 (git-lfs gives up) */
  shedStatus: z._default(
    preprocess(
      (v) => (typeof v === 'string' ? Number(v) : v),
      z.union([z.literal(429), z.literal(503)], { error: 'expected 429 or 503' }),
    ),
    429,
  ),
  /** seconds a client may take to send a request's headers (slowloris) */
  headersTimeout: z._default(int(1), 20),
  /** largest request header block in bytes */
  maxHeaderSize: z._default(int(1024, 1024 * 1024), 16 * 1024),
  /** open connections per process; more are closed at once. 0 = no limit */
  maxConnections: z._default(int(0), 4096),
  /** seconds an idle keep-alive connection stays open between requests */
  keepAliveTimeout: z._default(int(1), 72),
  /** requests served on one connection before it is closed. 0 = no limit */
  maxRequestsPerSocket: z._default(int(0), 1000),
  /**
   * server processes on this machine (one Node process answers on one core): with more than one,
   * a primary process starts them on the shared listening socket and replaces any that dies
   */
  workers: z._default(int(1, 256), 1),
  /**
   * proxies in front of lfsd that append to X-Forwarded-For: the client address is the entry this
   * many hops from the right. 0: the header is ignored and the socket's peer is the client
   */
  trustProxy: z._default(int(0, 16), 0),
  /** failed sign-ins per user name within signInFailureWindow, then 429 (auth/sign-in-limits.ts); 0: no limit */
  signInFailuresPerUser: z._default(int(0), 10),
  /** failed sign-ins per client address (IPv6: per /64) within signInFailureWindow; 0: no limit */
  signInFailuresPerAddress: z._default(int(0), 100),
  /** seconds over which failed sign-ins are counted */
  signInFailureWindow: z._default(int(1, 24 * 3600), 300),
  /** the web console at `/` (sign-in page, repositories, tokens, admin pages); the /api/v1 API stays either way */
  webConsole: z._default(bool, true),
  /** seconds a console session lasts after sign-in (signing out, a password change or disabling the user end it sooner) */
  webSessionTtl: z._default(int(60, 30 * 24 * 3600), 12 * 3600),
  // --- LFS over SSH (src/ssh, README "LFS over SSH") ---
  /** address of the built-in SSH server (`git-lfs-transfer`, `git-lfs-authenticate`); unset: none */
  sshListen: z.optional(hostPort),
  /** the SSH server's private host key (OpenSSH or PEM); unset: an ed25519 key generated once into the data dir */
  sshHostKey: z.optional(path),
  /**
   * serve `git-lfs-transfer` (pure SSH transfers); false: it is an unknown command, and clients
   * fall back to `git-lfs-authenticate` and HTTP
   */
  sshTransfer: z._default(bool, true),
});

export type Settings = z.infer<typeof settingsSchema>;
export type SettingName = keyof Settings;

/**
 * Settings never shown in clear (config print, logs). Each has a file variant `<name>File`
 * (env `LFSD_<NAME>_FILE`, flag `--<name>-file`) naming a file that holds its value.
 */
export const SECRET_SETTINGS = [
  'secret',
  'databaseUrl',
  'metricsToken',
  'redisUrl',
] as const satisfies readonly SettingName[];

/** the setting naming a file that holds secret setting `name` */
export function fileSettingOf(name: (typeof SECRET_SETTINGS)[number]): SettingName {
  return `${name}File`;
}

export const settingNames = Object.keys(settingsSchema.shape) as SettingName[];

export function envName(name: string): string {
  return `LFSD_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export function flagName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
