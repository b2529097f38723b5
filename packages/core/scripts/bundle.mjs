// Bundles the compiled package (dist/, from tsc) into dist/bundle/, what the package exports point at.
// Node's ESM loader spent ~130 ms resolving and linking core's ~150 modules on every `wharf` run; one
// bundle loads in ~50 ms, so a no-change `wharf build` of examples/hello takes 0.23 s instead of 0.30 s.
//
// Every module goes into one file, dist/bundle/core.js, once; each entry in package.json's `exports`
// (the root and every subpath: ./oci, ./registry …) is a two-line file re-exporting its names from it,
// so Node loads two files whatever a program imports (esbuild's code splitting made ~30 chunks for 15
// entry points, which cost the CLI ~50 ms more per start). ./testing is bundled on its own, sharing a
// chunk with core.js (one WharfError class, one store): its tar-stream dependency (CommonJS, a dozen
// files) is loaded only by programs that use the test helpers. Dependencies stay external. The
// per-module files in dist/ remain for source maps and types.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entries = entryPoints(pkg.exports);
const core = join(root, 'dist/bundle/core.js');
/** Entries bundled on their own rather than into core.js. */
const SEPARATE = new Set(['testing/index']);

rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });
// The synthetic entry of core.js: every export but those bundled on their own, as a namespace each.
const combined = entries.filter((e) => !SEPARATE.has(e.bundled));
const entryFile = join(root, 'dist/bundle-entry.js');
writeFileSync(
  entryFile,
  combined
    .map(({ bundled, compiled }) => `export * as ${namespaceOf(bundled)} from './${compiled.slice(5)}';`)
    .join('\n'),
);
try {
  await build({
    absWorkingDir: root,
    entryPoints: {
      core: entryFile,
      ...Object.fromEntries(
        entries.filter((e) => SEPARATE.has(e.bundled)).map((e) => [e.bundled, e.compiled]),
      ),
    },
    outdir: 'dist/bundle',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: Object.keys(pkg.dependencies ?? {}),
    // Whitespace and syntax minified, identifiers kept (class and function names read the same in
    // stack traces and `error.name`): V8 parses 849 → ~630 kB at every start, importing core.js ~20 %
    // faster; `NODE_OPTIONS=--enable-source-maps` maps traces back to src/ through the linked map.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
} finally {
  rmSync(entryFile, { force: true });
}
for (const { bundled, compiled } of combined) {
  // The names each entry exports, read from tsc's output of it (all constants: no live bindings to keep).
  const names = Object.keys(await import(pathToFileURL(join(root, compiled)).href));
  if (names.includes('default')) throw new Error(`bundle.mjs: ${compiled} has a default export`);
  const file = join(root, 'dist/bundle', `${bundled}.js`);
  const from = relative(dirname(file), core).replace(/^(?!\.)/, './');
  await mkdir(dirname(file), { recursive: true });
  const ns = namespaceOf(bundled);
  writeFileSync(file, `import { ${ns} } from '${from}';\nexport const { ${names.join(', ')} } = ${ns};\n`);
}

/**
 * The name core.js exports an entry's namespace under: `oci/index` → `wharf_oci`, `index` → `wharf_root`.
 * The CLI's bundle imports core.js directly through these names (packages/cli/scripts/bundle.mjs).
 */
function namespaceOf(bundled) {
  return `wharf_${bundled === 'index' ? 'root' : bundled.replace(/\/index$/, '').replace(/\W/g, '_')}`;
}

/** Each export's bundle path (`oci/index`) and its tsc output (`dist/oci/index.js`). */
function entryPoints(exports) {
  return Object.values(exports).map((target) => {
    const bundled = /^\.\/dist\/bundle\/(.+)\.js$/.exec(target.default)?.[1];
    if (!bundled) throw new Error(`bundle.mjs: export ${target.default} is not under ./dist/bundle/`);
    return { bundled, compiled: `dist/${bundled}.js` };
  });
}
