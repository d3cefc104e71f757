#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's built-in test runner.
// Node 20 has no glob support in `node --test`, so the files are listed here. Only files whose
// source (test/**/*.test.ts) still exists: tsc leaves the output of a removed test in dist/.
// Usage: node scripts/run-tests.mjs [substring ...]   (only files whose path contains one of them)
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
/** test/x/y.test.ts for dist/test/x/y.test.js */
const sourceOf = (file) => file.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts');
const files = findTests('dist/test')
  .filter((file) => existsSync(sourceOf(file)))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
