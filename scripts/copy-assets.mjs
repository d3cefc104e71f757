#!/usr/bin/env node
// Copies the web console's static files (src/web/assets) next to the compiled code in dist/,
// where web/console-routes.ts serves them from. Part of `npm run build`.
import { cpSync, rmSync } from 'node:fs';

rmSync('dist/src/web/assets', { recursive: true, force: true });
cpSync('src/web/assets', 'dist/src/web/assets', { recursive: true });
