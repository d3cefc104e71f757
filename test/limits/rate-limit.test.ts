/**
 * The generic rate limit (src/limits/rate-limit.ts) and the client address it is keyed by
 * (src/limits/client-address.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { addressLimitKey, clientAddress } from '../../src/limits/client-address.js';
import { createRateLimit, rateLimited } from '../../src/limits/rate-limit.js';

void describe('rate limit', () => {
  void it('allows `points` per window per key, then refuses with the seconds left', async () => {
    const limit = createRateLimit({ points: 3, durationSeconds: 60, keyPrefix: 'test' });
    for (let i = 0; i < 3; i++) assert.equal((await limit.consume('a')).allowed, true);
    const refused = await limit.consume('a');
    assert.equal(refused.allowed, false);
    assert.ok(!refused.allowed && refused.retryAfterSeconds >= 1 && refused.retryAfterSeconds <= 60);
    // another key has its own window
    assert.deepEqual(await limit.consume('b'), { allowed: true, remaining: 2 });
  });

  void it('get looks without consuming; penalty and reward move the count', async () => {
    const limit = createRateLimit({ points: 2, durationSeconds: 60, keyPrefix: 'test' });
    assert.deepEqual(await limit.get('k'), { allowed: true, remaining: 2 });
    assert.deepEqual(await limit.get('k'), { allowed: true, remaining: 2 });
    await limit.penalty('k', 2);
    assert.equal((await limit.get('k')).allowed, false);
    await limit.reward('k');
    assert.deepEqual(await limit.get('k'), { allowed: true, remaining: 1 });
    await limit.delete('k');
    assert.deepEqual(await limit.get('k'), { allowed: true, remaining: 2 });
  });

  void it('answers 429 with Retry-After in LFS JSON', async () => {
    const app = Fastify();
    app.get('/', (_request, reply) => rateLimited(reply, 12.2, 'Slow down'));
    const res = await app.inject({ url: '/' });
    assert.equal(res.statusCode, 429);
    assert.equal(res.headers['retry-after'], '13');
    assert.match(String(res.headers['content-type']), /^application\/vnd\.git-lfs\+json/);
    assert.equal(res.json<{ message: string }>().message, 'Slow down');
    await app.close();
  });
});

void describe('client address', () => {
  const req = (remoteAddress: string, xff?: string) => ({
    socket: { remoteAddress },
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  });

  void it('ignores X-Forwarded-For unless proxies are trusted', () => {
    assert.equal(clientAddress(req('10.0.0.5', '1.2.3.4'), 0), '10.0.0.5');
    assert.equal(clientAddress(req('::ffff:10.0.0.5'), 0), '10.0.0.5');
  });

  void it('takes the entry as many hops from the right as proxies are trusted', () => {
    // the client forged "6.6.6.6"; the one trusted proxy appended the real peer 1.2.3.4
    assert.equal(clientAddress(req('10.0.0.5', '6.6.6.6, 1.2.3.4'), 1), '1.2.3.4');
    assert.equal(clientAddress(req('10.0.0.5', '6.6.6.6, 1.2.3.4, 10.0.0.9'), 2), '1.2.3.4');
    // fewer entries than proxies: the leftmost
    assert.equal(clientAddress(req('10.0.0.5', '1.2.3.4'), 3), '1.2.3.4');
    // no header, or garbage in it: the socket's peer
    assert.equal(clientAddress(req('10.0.0.5'), 1), '10.0.0.5');
    assert.equal(clientAddress(req('10.0.0.5', 'not-an-ip'), 1), '10.0.0.5');
  });

  void it('counts IPv6 clients per /64 network', () => {
    assert.equal(addressLimitKey('1.2.3.4'), '1.2.3.4');
    assert.equal(addressLimitKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressLimitKey('2001:db8:1:2:bbbb:cccc:dddd:1'), '2001:db8:1:2::/64');
    assert.equal(addressLimitKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressLimitKey('::1'), '0:0:0:0::/64');
  });
});
