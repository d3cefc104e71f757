/**
 * Fastify's own schema compilers (Ajv for what a route accepts, fast-json-stringify for what it
 * answers), run on a route's first request instead of when the route is registered.
 *
 * Why: only the admin API's routes have schemas, some 30 validators and 25 serializers, and an
 * LFS server may never be asked for one of them. Compiled at start, their generated code and
 * Ajv's instance stayed in every server's heap. The compilers are Fastify's defaults, given the
 * server's options, so a schema checks and serializes exactly as before; what moves is when it
 * compiles (and when a broken schema would throw: test/http/lazy-schema-compilers.test.ts compiles
 * every admin API schema).
 */
import ValidatorSelector from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>;
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>;
type ValidatorCompiler = ReturnType<ValidatorFactory>;
type Validator = ReturnType<ValidatorCompiler>;
type SerializerCompiler = ReturnType<SerializerFactory>;

/** Ajv's validators, each compiled when it first validates (Ajv itself with the first one) */
export function lazyValidators(build: ValidatorFactory): ValidatorFactory {
  return (externalSchemas, options) => {
    let compile: ValidatorCompiler | undefined;
    return (route) => {
      let validate: Validator | undefined;
      // Ajv reports a failure's details on the function itself (`errors`), where Fastify reads them
      const lazy = ((...args: Parameters<Validator>) => {
        validate ??= (compile ??= build(externalSchemas, options))(route);
        const valid = validate(...args);
        lazy.errors = validate.errors;
        return valid;
      }) as Validator;
      return lazy;
    };
  };
}

/** fast-json-stringify's serializers, each generated when it first serializes */
export function lazySerializers(build: SerializerFactory): SerializerFactory {
  return (externalSchemas, options) => {
    let compile: SerializerCompiler | undefined;
    return (route) => {
      let serialize: ReturnType<SerializerCompiler> | undefined;
      return (doc) => (serialize ??= (compile ??= build(externalSchemas, options))(route))(doc);
    };
  };
}

/** Fastify's `schemaController` option for lazily compiled schemas */
export function lazySchemaCompilers(): FastifyServerOptions['schemaController'] {
  return {
    compilersFactory: {
      buildValidator: lazyValidators(ValidatorSelector()),
      buildSerializer: lazySerializers(SerializerSelector()),
    },
  };
}
