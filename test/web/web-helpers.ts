/** Driving the web console through `app.inject()`: cookies kept like a browser, CSRF tokens read from pages. */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/** A browser's cookie jar and the last CSRF token a page gave it. */
export class ConsoleClient {
  readonly cookies = new Map<string, string>();
  csrf = '';

  constructor(readonly app: FastifyInstance) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(
    method: 'GET' | 'POST',
    url: string,
    form?: Record<string, string>,
    options: { csrf?: boolean } = {},
  ): Promise<LightMyRequestResponse> {
    const fields = form && (options.csrf ?? true) ? { _csrf: this.csrf, ...form } : form;
    const res = await this.app.inject({
      method,
      url,
      headers: {
        cookie: this.cookieHeader,
        ...(fields ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(fields ? { payload: new URLSearchParams(fields).toString() } : {}),
    });
    for (const cookie of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const expired =
        cookie.maxAge === 0 || (cookie.expires !== undefined && cookie.expires.getTime() <= Date.now());
      if (expired || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1];
    if (token) this.csrf = token;
    return res;
  }

  get(url: string): Promise<LightMyRequestResponse> {
    return this.request('GET', url);
  }

  post(
    url: string,
    form: Record<string, string>,
    options?: { csrf?: boolean },
  ): Promise<LightMyRequestResponse> {
    return this.request('POST', url, form, options);
  }

  /** Signs in through the sign-in form; asserts it worked. */
  async signIn(name: string, password: string): Promise<void> {
    await this.get('/-/sign-in');
    const res = await this.post('/-/sign-in', { name, password });
    assert.equal(res.statusCode, 303, res.body);
    assert.equal(res.headers.location, '/-/repos');
    await this.get('/-/repos');
  }
}
