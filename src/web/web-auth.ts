/**
 * Who is calling the admin API or the console: the same `Authorization` header (Basic with a
 * password or token, or Bearer) the LFS API takes, through the one Authenticator; or, when the
 * console is on, its session cookie. A request authenticated by the cookie and changing anything
 * must also carry the CSRF token (web-plugin.ts checks it); one authenticated by a header needs
 * none, since a browser never adds that header to a cross-site request by itself.
 */
import type { FastifyRequest } from 'fastify';
import type { Caller } from '../auth/caller.js';
import type { AppDeps } from '../http/app-deps.js';
import { authenticate } from '../http/authenticate.js';
import type { SessionService } from './session-service.js';

export const SESSION_COOKIE = 'lfsd_session';

export interface WebCaller {
  caller: Caller;
  /** how the caller proved who they are */
  via: 'header' | 'session' | 'none';
  /** the console session's id (via 'session') */
  sessionId?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    web: WebCaller;
  }
}

export async function webCallerOf(
  deps: AppDeps,
  sessions: SessionService | undefined,
  request: FastifyRequest,
): Promise<WebCaller> {
  let web: WebCaller = { caller: { kind: 'anonymous' }, via: 'none' };
  if (request.headers.authorization) {
    web = { caller: await authenticate(deps, request), via: 'header' };
  } else if (sessions) {
    const secret = (request as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies?.[
      SESSION_COOKIE
    ];
    const caller = await sessions.resolve(secret);
    if (caller) web = { caller, via: 'session', sessionId: Number(caller.credential.id) };
  }
  if (web.caller.kind === 'user') request.ctx.user = web.caller.user.name;
  return web;
}

/** Whether the method may change something (and so needs the CSRF token under a session). */
export function isUnsafeMethod(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}
