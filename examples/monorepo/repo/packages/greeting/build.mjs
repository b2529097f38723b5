// The shared library's "build": copies its source into dist/ (a stand-in for tsc or a bundler).
import { copyFileSync, mkdirSync } from 'node:fs';

mkdirSync(new URL('dist/', import.meta.url), { recursive: true });
copyFileSync(new URL('index.js', import.meta.url), new URL('dist/index.js', import.meta.url));
