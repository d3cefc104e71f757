/**
 * The one schema of every lfsd setting. Each setting has a camelCase name (the config-file key),
 * an environment variable `LFSD_<SNAKE_NAME>` and a flag `--<kebab-name>`, all derived from the
 * name here, so a new setting is added in one place.
 *
 * Precedence: defaults < config file (YAML or JSON) < environment < command-line flags.
 */
import { z } from 'zod';
import { signingKeyProblem } from '../auth/signing-key.js';

const bool = z.preprocess(
  (v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v),
  z.boolean({ error: 'expected true or false' }),
);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const expected = `expected an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}`;
  return z.preprocess(
    (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
    z
      .number({ error: expected })
      .int({ error: expected })
      .min(min, { error: expected })
      .max(max, { error: expected }),
  );
};
const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.join(', ')}` });
const path = z.string({ error: 'expected a file path' }).min(1, { error: 'expected a file path' });
const text = z.string({ error: 'expected a string' });
const hostPort = z
  .string({ error: 'expected HOST:PORT, e.g. 127.0.0.1:8080' })
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:8080');
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

export const settingsSchema = z.strictObject({
  dataDir: path.default('./lfsd-data'),
  listen: hostPort.default('127.0.0.1:8080'),
  /** PEM certificate chain: with tlsKey, `listen` serves HTTPS */
  tlsCert: path.optional(),
  /** PEM private key of tlsCert */
  tlsKey: path.optional(),
  /** separate plain-HTTP address for /metrics, /healthz and /readyz; unset: /metrics on `listen` */
  metricsListen: hostPort.optional(),
  /**
   * bearer token for /metrics on the main listener (`Authorization: Bearer <token>`); unset:
   * /metrics there answers only loopback clients not behind a proxy. `metricsListen` is open.
   */
  metricsToken: text
    .min(16, { error: 'expected a token of at least 16 characters (e.g. `openssl rand -hex 16`)' })
    .optional(),
  /** a file holding `metricsToken` */
  metricsTokenFile: path.optional(),
  /** base URL clients reach this server at (behind a load balancer); default derived from `listen` */
  publicUrl: httpUrl.optional(),
  /** `sqlite:PATH`, `postgres://...` or `mysql://...`; default `sqlite:<dataDir>/lfsd.sqlite` */
  databaseUrl: text
    .regex(
      /^(sqlite:|postgres(ql)?:\/\/|mysql:\/\/|mariadb:\/\/)/,
      'expected sqlite:PATH, postgres://… or mysql://…',
    )
    .optional(),
  /** a file holding `databaseUrl` */
  databaseUrlFile: path.optional(),
  databasePoolSize: int(1, 1000).default(10),
  storage: enumOf(['disk', 's3']).default('disk'),
  s3Bucket: text.min(1, { error: 'expected a bucket name' }).optional(),
  s3Prefix: text.default(''),
  s3Endpoint: httpUrl.optional(),
  s3Region: text.default('us-east-1'),
  s3ForcePathStyle: bool.default(false),
  transferMode: enumOf(['proxy', 'direct']).default('proxy'),
  /** HMAC secret for transfer tokens; shared by all replicas. Default: generated into the data dir */
  secret: text
    .superRefine((value, ctx) => {
      const problem = signingKeyProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  /** a file holding `secret` (a mounted Kubernetes Secret): kept out of the environment and `ps` */
  secretFile: path.optional(),
  /** lifetime of transfer hrefs in seconds (the client re-batches 5 s before expiry) */
  transferTokenTtl: int(60).default(3600),
  /**
   * lifetime of presigned S3 URLs in seconds (transferMode direct). Revoking a credential cannot
   * withdraw a presigned URL already handed out, so this is how long one may still be used.
   */
  presignedUrlTtl: int(60, 7 * 24 * 3600).default(900),
  /**
   * who sends the bytes of a proxied download (storage: disk): `none`, lfsd itself;
   * `x-accel-redirect`, nginx in front of lfsd (lfsd answers with the header and nginx sends the
   * file from an `internal` location, see README "Download offload"); `x-sendfile`, a proxy that
   * sends the absolute path the header names (Apache mod_xsendfile, lighttpd)
   */
  downloadOffload: enumOf(['none', 'x-accel-redirect', 'x-sendfile']).default('none'),
  /** with x-accel-redirect: the nginx `internal` location that maps to `<dataDir>/objects/` */
  downloadOffloadPrefix: text
    .regex(/^\/(.*\/)?$/, 'expected a URL path that starts and ends with /, e.g. /_lfsd/objects/')
    .default('/_lfsd/objects/'),
  maxObjectSize: int(0).default(100 * 1024 ** 3),
  maxBatchObjects: int(1, 100_000).default(1000),
  jsonBodyLimit: int(1024).default(1024 * 1024),
  logLevel: enumOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `auto`: pretty when stdout is a terminal, JSON lines otherwise */
  logFormat: enumOf(['auto', 'json', 'pretty']).default('auto'),
  /** seconds in-flight transfers may run after SIGTERM/SIGINT before they are cut and the process exits */
  shutdownTimeout: int(0).default(30),
  /**
   * seconds a connection may stay silent before it is closed: a client that stalls mid-upload
   * must not hold a temp file and a socket forever (git-lfs itself gives up after 30 s)
   */
  idleTimeout: int(1).default(120),
  // --- overload and abuse (src/limits, README "Limits and overload") ---
  /**
   * API requests (batch, locks, admin API) per user per `rateLimitWindow`, per client address for
   * anonymous callers; past it `429` + `Retry-After`. 0 = no limit
   */
  rateLimit: int(0).default(1200),
  /** seconds of the rate limit's window */
  rateLimitWindow: int(1, 3600).default(60),
  /** `redis://…`: rate limits shared by every replica and worker; unset: per process */
  redisUrl: text.regex(/^rediss?:\/\//, 'expected redis://… or rediss://…').optional(),
  /** file holding redisUrl (it may carry a password) */
  redisUrlFile: path.optional(),
  /** uploads and downloads at once in this process; more wait, then get `429` + `Retry-After`. 0 = no limit */
  maxTransfers: int(0).default(512),
  /** uploads and downloads at once per user (per address for anonymous callers) in this process. 0 = no limit */
  maxTransfersPerUser: int(0).default(0),
  /** seconds a transfer over the limits waits for a slot (before its body is read) before it gets `429` */
  transferQueueTimeout: int(0, 25).default(5),
  /** event loop delay (ms, p99 over the last half second) past which new batch requests are shed. 0 = off */
  shedAtEventLoopDelay: int(0).default(500),
  /** callers waiting for a metadata database connection past which new batch requests are shed. 0 = off */
  shedAtDbWaiting: int(0).default(64),
  /** status of a shed batch request: 429 (git-lfs retries it) or 503 (git-lfs gives up) */
  shedStatus: z
    .preprocess(
      (v) => (typeof v === 'string' ? Number(v) : v),
      z.union([z.literal(429), z.literal(503)], { error: 'expected 429 or 503' }),
    )
    .default(429),
  /** seconds a client may take to send a request's headers (slowloris) */
  headersTimeout: int(1).default(20),
  /** largest request header block in bytes */
  maxHeaderSize: int(1024, 1024 * 1024).default(16 * 1024),
  /** open connections per process; more are closed at once. 0 = no limit */
  maxConnections: int(0).default(4096),
  /** seconds an idle keep-alive connection stays open between requests */
  keepAliveTimeout: int(1).default(72),
  /** requests served on one connection before it is closed. 0 = no limit */
  maxRequestsPerSocket: int(0).default(1000),
  /**
   * server processes on this machine (one Node process answers on one core): with more than one,
   * a primary process starts them on the shared listening socket and replaces any that dies
   */
  workers: int(1, 256).default(1),
  /**
   * proxies in front of lfsd that append to X-Forwarded-For: the client address is the entry this
   * many hops from the right. 0: the header is ignored and the socket's peer is the client
   */
  trustProxy: int(0, 16).default(0),
  /** failed sign-ins per user name within signInFailureWindow, then 429 (auth/sign-in-limits.ts); 0: no limit */
  signInFailuresPerUser: int(0).default(10),
  /** failed sign-ins per client address (IPv6: per /64) within signInFailureWindow; 0: no limit */
  signInFailuresPerAddress: int(0).default(100),
  /** seconds over which failed sign-ins are counted */
  signInFailureWindow: int(1, 24 * 3600).default(300),
  /** the web console at `/` (sign-in page, repositories, tokens, admin pages); the /api/v1 API stays either way */
  webConsole: bool.default(true),
  /** seconds a console session lasts after sign-in (signing out, a password change or disabling the user end it sooner) */
  webSessionTtl: int(60, 30 * 24 * 3600).default(12 * 3600),
  // --- LFS over SSH (src/ssh, README "LFS over SSH") ---
  /** address of the built-in SSH server (`git-lfs-transfer`, `git-lfs-authenticate`); unset: none */
  sshListen: hostPort.optional(),
  /** the SSH server's private host key (OpenSSH or PEM); unset: an ed25519 key generated once into the data dir */
  sshHostKey: path.optional(),
  /**
   * serve `git-lfs-transfer` (pure SSH transfers); false: it is an unknown command, and clients
   * fall back to `git-lfs-authenticate` and HTTP
   */
  sshTransfer: bool.default(true),
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
