/**
 * The bundle (scripts/bundle.mjs) is what users run: package.json's bin, `npm start`, the Docker
 * image (which copies dist/bundle and node_modules, not dist/src), and every test that starts
 * `lfsd` (helpers/lfsd-process.ts). These checks catch a bundle that works here only because the
 * compiled tree happens to lie beside it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BUNDLE = join(ROOT, 'dist/bundle');
const MAIN = join(BUNDLE, 'main.js');
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};

/** module specifiers of static imports, re-exports, import() and require() with a literal */
function specifiersIn(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s*(?:[\w*${}\s,]+?\s*from\s*)?["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
    // esbuild's own require of bundled CommonJS code, and of the CommonJS externals (bundle.mjs)
    /\b(?:__)?require\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) found.push(match[1] as string);
  return found;
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

describe('the bundle', () => {
  it('is the bin users get, executable, and starts', () => {
    assert.equal(packageJson.bin.lfsd, 'dist/bundle/main.js');
    assert.ok(readFileSync(MAIN, 'utf8').startsWith('#!/usr/bin/env node\n'));
    accessSync(MAIN, constants.X_OK);
    const help = spawnSync(process.execPath, [MAIN, 'serve', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--data-dir/);
  });

  it('imports only its own chunks, Node built-ins and installed packages, never the compiled tree', () => {
    const files = readdirSync(BUNDLE).filter((name) => name.endsWith('.js'));
    assert.ok(files.length > 1, 'lazy parts are chunks of their own');
    const fromBundle = createRequire(MAIN);
    const builtins = new Set(builtinModules);
    const seen = new Set<string>();
    for (const file of files) {
      for (const specifier of specifiersIn(readFileSync(join(BUNDLE, file), 'utf8'))) {
        seen.add(specifier);
        if (specifier.startsWith('.')) {
          const target = resolve(BUNDLE, specifier);
          assert.ok(target.startsWith(BUNDLE + '/'), `${file} imports ${specifier}, outside the bundle`);
          assert.ok(existsSync(target), `${file} imports ${specifier}, which is missing`);
        } else if (specifier.startsWith('node:') || builtins.has(specifier)) {
          continue;
        } else {
          assert.ok(!specifier.startsWith('/'), `${file} imports the absolute path ${specifier}`);
          // a package left to run-time loading: installed with lfsd (the Docker image copies only
          // the production node_modules beside the bundle)
          const name = packageOf(specifier);
          assert.doesNotThrow(
            () => fromBundle.resolve(`${name}/package.json`),
            `${specifier} is not installed`,
          );
        }
      }
    }
    // the externals scripts/bundle.mjs names are lfsd's own dependencies
    for (const name of ['better-sqlite3', 'pino', 'ssh2', '@aws-sdk/client-s3']) {
      assert.ok(seen.has(name), `the bundle loads ${name} at run time`);
      assert.ok(packageJson.dependencies[name], `${name} is a dependency`);
    }
  });
});
