// Route schemas compile on their route's first request, with Fastify's own compilers: registering
// routes compiles nothing, a request compiles its route's schemas once, and validation failures and
// serialization behave as with Fastify's defaults. And every admin API schema compiles.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ValidatorSelector from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import Fastify from 'fastify';
import { AJV_OPTIONS } from '../../src/http/app.js';
import { lazySerializers, lazyValidators } from '../../src/http/lazy-schema-compilers.js';
import { API_PREFIX, API_ROUTES } from '../../src/web/api-routes.js';
import { routeSchema } from '../../src/web/web-plugin.js';

/** Fastify's default compilers, counting the schemas they compile */
function countingCompilers() {
  const compiled = { validators: 0, serializers: 0, ajvInstances: 0 };
  const buildValidator = ValidatorSelector();
  const buildSerializer = SerializerSelector();
  return {
    compiled,
    compilersFactory: {
      buildValidator: lazyValidators((externalSchemas, options) => {
        compiled.ajvInstances++;
        const compile = buildValidator(externalSchemas, options);
        return (route) => {
          compiled.validators++;
          return compile(route);
        };
      }),
      buildSerializer: lazySerializers((externalSchemas, options) => {
        const compile = buildSerializer(externalSchemas, options);
        return (route) => {
          compiled.serializers++;
          return compile(route);
        };
      }),
    },
  };
}

async function appWithRoutes(routes: number) {
  const { compiled, compilersFactory } = countingCompilers();
  // the server's Ajv options reach the compiler (by default Fastify coerces 7 to "7" and drops
  // unknown fields)
  const app = Fastify({
    schemaController: { compilersFactory },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  for (let i = 0; i < routes; i++) {
    app.post(`/r${i}`, {
      schema: {
        body: {
          type: 'object',
          properties: { name: { type: 'string' } },
          required: ['name'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { greeting: { type: 'string' } } } },
      },
      handler: async (request) => ({
        greeting: `hello ${(request.body as { name: string }).name}`,
        secret: 'not in the schema',
      }),
    });
  }
  await app.ready();
  return { app, compiled };
}

describe('lazy schema compilers', () => {
  it('compile nothing when routes are registered, and each schema once on first use', async () => {
    const { app, compiled } = await appWithRoutes(5);
    try {
      assert.deepEqual(compiled, { validators: 0, serializers: 0, ajvInstances: 0 });
      for (let i = 0; i < 2; i++) {
        const res = await app.inject({ method: 'POST', url: '/r1', payload: { name: 'ann' } });
        assert.equal(res.statusCode, 200);
        // the response schema still decides what is sent
        assert.deepEqual(res.json(), { greeting: 'hello ann' });
      }
      assert.deepEqual(compiled, { validators: 1, serializers: 1, ajvInstances: 1 });
      await app.inject({ method: 'POST', url: '/r3', payload: { name: 'bo' } });
      assert.deepEqual(compiled, { validators: 2, serializers: 2, ajvInstances: 1 });
    } finally {
      await app.close();
    }
  });

  it('report validation failures as Fastify does, on the first request and after', async () => {
    const { app } = await appWithRoutes(1);
    try {
      for (const [payload, message] of [
        [{ name: 7 }, 'body/name must be string'],
        [{}, "body must have required property 'name'"],
        [{ name: 'x', extra: 1 }, 'body must NOT have additional properties'],
      ] as const) {
        const res = await app.inject({ method: 'POST', url: '/r0', payload });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().message, message);
      }
      const ok = await app.inject({ method: 'POST', url: '/r0', payload: { name: 'cy' } });
      assert.equal(ok.statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

// compiled lazily, a broken schema would only throw on its route's first request: every admin API
// route's schemas compile here, with the server's Ajv options
describe('the admin API route schemas', () => {
  it('all compile with Fastify’s compilers', () => {
    const validate = ValidatorSelector()({}, AJV_OPTIONS);
    const serialize = SerializerSelector()({}, {});
    assert.ok(API_ROUTES.length >= 20, `${API_ROUTES.length} routes`);
    for (const route of API_ROUTES) {
      const url = API_PREFIX + route.path;
      const { response, ...request } = routeSchema(route);
      for (const [httpPart, schema] of Object.entries(request)) {
        assert.equal(typeof validate({ schema, method: route.method, url, httpPart }), 'function', url);
      }
      for (const [status, schema] of Object.entries(response ?? {})) {
        const serializer = serialize({ schema, method: route.method, url, httpStatus: status });
        assert.equal(typeof serializer, 'function', url);
      }
    }
  });
});
