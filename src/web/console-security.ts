/**
 * The console's browser-facing security, from the Fastify plugin family: cookies
 * (@fastify/cookie), CSRF tokens bound to the session (@fastify/csrf-protection: the secret in an
 * HttpOnly SameSite=Strict cookie, the token in each form and in X-CSRF-Token), and security
 * headers (@fastify/helmet) with a strict Content-Security-Policy: only lfsd's own script and
 * style files, no inline script or style, no frames, forms posting only back to lfsd.
 * Imported only when the console is on (web-plugin.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

export const CSRF_COOKIE = 'lfsd_csrf';

export async function installConsoleSecurity(app: FastifyInstance, csrfKey: string): Promise<void> {
  const [{ default: cookie }, { default: csrf }, { default: helmet }] = await Promise.all([
    import('@fastify/cookie'),
    import('@fastify/csrf-protection'),
    import('@fastify/helmet'),
  ]);
  await app.register(cookie);
  await app.register(csrf, {
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, secure: 'auto' },
    // a token is good only for the session it was issued in (and a signed-out browser's for none)
    getUserInfo: (request: FastifyRequest) => String(request.web?.sessionId ?? 'anonymous'),
    csrfOpts: { hmacKey: csrfKey },
  });
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    // lfsd may serve plain HTTP on a private network; HSTS is the TLS proxy's or operator's call
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: true,
  });
}
