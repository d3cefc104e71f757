/**
 * An lfsd app on the embedded default (SQLite + disk) in a fresh temp dir, for tests through
 * `app.inject()` or, with `listen`, through a real socket on 127.0.0.1 and a random port.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAccessToken, hashAccessToken } from '../../src/auth/access-token.js';
import { passwordCredential } from '../../src/auth/caller.js';
import { credentialRef } from '../../src/auth/credentials.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import { loadSettings } from '../../src/config/load-settings.js';
import type { Settings } from '../../src/config/settings.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildApp } from '../../src/http/app.js';
import type { Logger } from 'pino';
import { buildDeps, type BuildDepsOptions, type BuiltDeps } from '../../src/server/build-deps.js';
import type { FastifyInstance } from 'fastify';

export interface TestApp {
  app: FastifyInstance;
  deps: BuiltDeps;
  settings: Settings;
  dataDir: string;
  close(): Promise<void>;
}

export interface TestAppOptions extends BuildDepsOptions {
  /** the app's logger (default: silent) */
  logger?: Logger;
}

export async function createTestApp(
  overrides: Record<string, unknown> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lfsd-test-'));
  // no request rate limit and no load shedding unless a test asks for them: tests fire requests
  // far faster than users, and a test process's own stalls (its other apps, a busy CI host) are
  // not what the test is about
  const settings = loadSettings({
    env: {},
    flags: {
      dataDir,
      logLevel: 'silent',
      rateLimit: 0,
      shedAtEventLoopDelay: 0,
      shedAtDbWaiting: 0,
      ...overrides,
    },
  });
  const logger = options.logger ?? createLogger('silent', { pretty: false });
  const deps = await buildDeps(settings, logger, 'http://lfsd.test', options);
  const app = buildApp(deps);
  await app.ready();
  return {
    app,
    deps,
    settings,
    dataDir,
    async close() {
      await app.close();
      await deps.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function basicAuth(name: string, secret: string): string {
  return `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}`;
}

export async function addUser(
  deps: BuiltDeps,
  name: string,
  options: { admin?: boolean; password?: string } = {},
): Promise<{ id: number; authorization: string; token: string; credential: string }> {
  const password = options.password ?? `${name}-password`;
  const user = await deps.metadata.createUser({
    name,
    isAdmin: options.admin ?? false,
    passwordHash: await hashPassword(password),
  });
  const token = generateAccessToken();
  await deps.metadata.createToken({
    userId: user.id,
    name: 'test',
    secretHash: hashAccessToken(token),
    expiresAt: null,
  });
  // the reference transfer tokens carry for this user's password (auth/credentials.ts)
  const credential = credentialRef({ kind: 'user', user, credential: passwordCredential(user) });
  return { id: user.id, authorization: basicAuth(name, password), token, credential };
}

export interface PlannedAction {
  href: string;
  header: Record<string, string>;
  expires_in?: number;
}

/** One object of a batch answer, as the client reads it. */
export interface PlannedObject {
  oid: string;
  size: number;
  authenticated?: boolean;
  actions?: { upload?: PlannedAction; download?: PlannedAction; verify?: PlannedAction };
  error?: { code: number; message: string };
}

/** The credential reference a transfer action's token was granted under (auth/credentials.ts). */
export function credentialOfAction(action: PlannedAction): string {
  const token = /^Bearer (\S+)$/.exec(action.header.Authorization ?? '')?.[1] ?? '';
  const credential = token.split('.')[2];
  assert.ok(credential, `no credential in the token of ${action.href}`);
  return credential;
}

/**
 * The verify action a batch would hand out with `upload` in direct mode: lfsd's verify href with
 * a verify token of this server, under the same credential. In proxy mode batches offer no verify
 * (the PUT links the object), but the endpoint answers the same, and tests call it through this.
 */
export function verifyAction(
  t: TestApp,
  repo: string,
  obj: { oid: string; size: number },
  upload: PlannedAction,
): PlannedAction {
  const token = t.deps.tokens.issue({
    operation: 'verify',
    repoPath: repo,
    oid: obj.oid,
    size: obj.size,
    credential: credentialOfAction(upload),
  });
  return {
    href: `${t.deps.publicUrl}/${repo}.git/info/lfs/objects/${obj.oid}/verify`,
    header: { Authorization: `Bearer ${token}` },
  };
}

/** A one-object batch request through `app.inject()`; asserts 200 and returns the object's answer. */
export async function batchOne(
  app: FastifyInstance,
  operation: 'upload' | 'download',
  obj: { oid: string; size: number },
  repo: string,
  authorization: string,
): Promise<PlannedObject> {
  const res = await app.inject({
    method: 'POST',
    url: `/${repo}.git/info/lfs/objects/batch`,
    headers: {
      'content-type': 'application/vnd.git-lfs+json',
      accept: 'application/vnd.git-lfs+json',
      authorization,
    },
    payload: JSON.stringify({ operation, objects: [{ oid: obj.oid, size: obj.size }] }),
  });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { objects: PlannedObject[] }).objects[0]!;
}
