// Bundles the compiled package (dist/, from tsc) into dist/bundle/, what the package exports point at.
// Node's ESM loader spent ~130 ms resolving and linking core's ~150 modules on every `wharf` run; one
// bundle loads in ~50 ms, so a no-change `wharf build` of examples/hello takes 0.23 s instead of 0.30 s.
// Both entry points (the library and ./testing) share chunks (esbuild's splitting), so a program that
// imports both gets one copy of every module: one WharfError class, one store. Dependencies stay
// external. The per-module files in dist/ remain for source maps and types.
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// Chunk names are content hashes: clear the last build's.
rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { index: 'dist/index.js', 'testing/index': 'dist/testing/index.js' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(pkg.dependencies ?? {}),
  sourcemap: 'linked',
  logLevel: 'warning',
});
