// The app's "build": copies src/ to dist/ (a stand-in for tsc or a bundler, with no dependencies).
import { cpSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
cpSync('src', 'dist', { recursive: true });
console.log('built dist/');
