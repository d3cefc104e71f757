import type { FastifyReply, FastifyRequest } from 'fastify';
import { lfsError } from '../errors.js';

/** The media type of every API response, errors included (LFS-PROTOCOL.md sections 2.2, 2.3). */
export const LFS_JSON = 'application/vnd.git-lfs+json';

export function sendLfsJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(LFS_JSON).send(body);
}

/**
 * 406 when the client says it cannot take LFS JSON. A missing Accept, `*\/*` and
 * `application/json` are fine (being strict here broke clients: LFS-PROTOCOL.md section 8).
 */
export function requireLfsAccept(request: FastifyRequest): void {
  const accept = request.headers.accept;
  if (!accept) return;
  const ok = accept
    .split(',')
    .map((part) => part.split(';')[0]?.trim().toLowerCase())
    .some(
      (type) =>
        type === LFS_JSON || type === 'application/json' || type === '*/*' || type === 'application/*',
    );
  if (!ok) throw lfsError('not_acceptable');
}
