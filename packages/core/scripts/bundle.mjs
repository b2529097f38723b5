// Bundles the compiled package (dist/, from tsc) into dist/bundle/, what the package exports point at.
// Node's ESM loader spent ~130 ms resolving and linking core's ~150 modules on every `wharf` run; one
// bundle loads in ~50 ms, so a no-change `wharf build` of examples/hello takes 0.23 s instead of 0.30 s.
// Every entry point in package.json's `exports` (the root and each subpath: ./oci, ./registry, ./testing …)
// is bundled, and they share chunks (esbuild's splitting), so a program that imports several gets one copy
// of every module: one WharfError class, one store. Dependencies stay external. The per-module files in
// dist/ remain for source maps and types.
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
  entryPoints: entryPoints(pkg.exports),
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

/** `{ 'oci/index': 'dist/oci/index.js', … }`: each export's bundle path (minus `.js`) → its tsc output. */
function entryPoints(exports) {
  const entries = {};
  for (const target of Object.values(exports)) {
    const bundled = /^\.\/dist\/bundle\/(.+)\.js$/.exec(target.default);
    if (!bundled) throw new Error(`bundle.mjs: export ${target.default} is not under ./dist/bundle/`);
    entries[bundled[1]] = `dist/${bundled[1]}.js`;
  }
  return entries;
}
