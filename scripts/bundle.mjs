#!/usr/bin/env node
// Bundles the compiled command line (dist/src/cli/main.js) into dist/bundle/, the `lfsd` that
// package.json's bin, `npm start`, the Docker image, the tests and the bench run. Part of
// `npm run build`, after tsc and copy-assets.
//
// Why: loaded from ~1,000 module files (kysely alone is 265), a server process held ~7 MB more
// memory at rest and the command line took twice as long to start (300 vs 150 ms for
// `lfsd --help` here, which every `lfsd ssh-command` over OpenSSH pays). One file per entry
// point, whitespace and syntax minified; identifiers are kept so that stack traces still name
// their functions, and a source map sits beside each file (node --enable-source-maps uses it).
import { chmodSync, cpSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist/bundle';

// Left to Node's own module loading at run time:
const external = [
  // native addons: loaded from their own package directory
  'better-sqlite3',
  '@node-rs/argon2',
  'ssh2', // and its optional native cpu-features; loaded only when SSH is configured
  // pino starts its transports (pino-pretty) in a worker thread from files of its own package
  'pino',
  'pino-pretty',
  'thread-stream',
  // loaded only when configured (scale-out, Redis): imported lazily, kept out of the bundle
  '@aws-sdk/*',
  '@smithy/*',
  'undici',
  'pg',
  'mysql2',
  'ioredis',
];

// The external CommonJS packages are loaded with require(), not import: Node parses a CommonJS
// module that ESM imports with its cjs-module-lexer to find its named exports, a character loop
// that ran hot enough at start (pino, better-sqlite3) for V8 to optimize it with TurboFan, whose
// code then stays resident. (@aws-sdk/* is ESM already.) Each import statement of such a package
// becomes a small bundled CommonJS module that requires it.
const COMMONJS_EXTERNALS = /^(better-sqlite3|ssh2|pino|pg|mysql2)$/;
const requireCommonJsExternals = {
  name: 'require-commonjs-externals',
  setup(build) {
    // only `import` statements: esbuild gives a dynamic import() of a bundled CommonJS module in
    // its own chunk a `default` export alone, so argon2 and ioredis, imported that way, are left out
    // of the list and stay Node's imports
    build.onResolve({ filter: COMMONJS_EXTERNALS }, (args) =>
      args.kind === 'import-statement'
        ? { path: args.path, namespace: 'commonjs-external' }
        : { path: args.path, external: true },
    );
    build.onLoad({ filter: /.*/, namespace: 'commonjs-external' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: ['dist/src/cli/main.js'],
  outdir: OUT,
  bundle: true,
  // lazy imports (the server, the web console, the S3 store, ...) stay lazy: separate chunks
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  plugins: [requireCommonJsExternals],
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  // bundled CommonJS packages call require() for Node's built-ins
  banner: {
    js: "import { createRequire as lfsdCreateRequire } from 'node:module'; const require = lfsdCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
chmodSync(`${OUT}/main.js`, 0o755);
// the web console's static files, where web/console-routes resolves them from its own module
cpSync('src/web/assets', `${OUT}/assets`, { recursive: true });
