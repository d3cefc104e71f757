/**
 * The OpenAPI 3.1 document of the admin API, built from the same route table and schemas Fastify
 * validates with (api-routes.ts), so the document cannot drift from what the server checks.
 */
import { API_PREFIX, API_ROUTES, type ApiRoute } from './api-routes.js';
import { errorJson } from './api-schemas.js';

const ERROR = { description: 'Error', content: { 'application/json': { schema: errorJson } } };

function operation(route: ApiRoute) {
  const parameters = [
    ...Object.entries(route.params ?? {}).map(([name, schema]) => ({
      name,
      in: 'path',
      required: true,
      schema,
    })),
    ...Object.entries((route.query?.properties ?? {}) as Record<string, unknown>).map(([name, schema]) => ({
      name,
      in: 'query',
      required: false,
      schema,
    })),
  ];
  return {
    summary: route.summary,
    tags: [route.tag],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: route.body } } } }
      : {}),
    responses: {
      [route.status]: route.response
        ? { description: 'OK', content: { 'application/json': { schema: route.response } } }
        : { description: 'Done' },
      '4XX': ERROR,
    },
  };
}

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of API_ROUTES) {
    const path = API_PREFIX + route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'lfsd admin API',
      version,
      description:
        'Repositories, locks, tokens, users and grants of an lfsd server. Authenticate as for the LFS API ' +
        '(HTTP Basic with a password or token, or Bearer with a token), or with the web console session ' +
        'cookie plus its CSRF token in X-CSRF-Token for requests that change something.',
    },
    components: {
      securitySchemes: {
        basic: { type: 'http', scheme: 'basic' },
        bearer: { type: 'http', scheme: 'bearer' },
        session: { type: 'apiKey', in: 'cookie', name: 'lfsd_session' },
      },
    },
    security: [{ basic: [] }, { bearer: [] }, { session: [] }],
    paths,
  };
}
