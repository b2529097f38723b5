import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { namespaceOf } from './core-namespace.mjs';
import { hashedName } from './hashed-name.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entries = entryPoints(pkg.exports);
const bundleDir = join(root, 'dist/bundle');
const core = join(bundleDir, 'core.js');
/** Entries bundled on their own rather than into core-body.cjs. */
const SEPARATE = new Set(['testing/index']);
/**
 * Node modules core requires on first use (reading one of their exports) instead of when it loads: a
 * no-change build uses none of them (zlib: ~1–4 ms of a start, with its binding).
 */
const LAZY_BUILTINS = ['node:child_process', 'node:tls', 'node:worker_threads', 'node:zlib'];

rmSync(bundleDir, { recursive: true, force: true });
const combined = entries.filter((e) => !SEPARATE.has(e.bundled));
const separate = entries.filter((e) => SEPARATE.has(e.bundled));
// Core's modules the separate entries import (../oci/index.js …): core-body exports each as a namespace too.
const internal = [...new Set(separate.flatMap((e) => outsideImports(join(root, e.compiled))))];

// The synthetic entry of core-body.cjs: every export but those bundled on their own, as a namespace each.
const entryFile = join(root, 'dist/bundle-entry.js');
writeFileSync(
  entryFile,
  [
    ...combined.map(({ namespace, compiled }) => `export * as ${namespace} from './${compiled.slice(5)}';`),
    ...internal.map(
      (file) => `export * as ${internalNamespace(file)} from './${relative(join(root, 'dist'), file)}';`,
    ),
  ].join('\n'),
);
try {
  await build({
    absWorkingDir: root,
    entryPoints: [entryFile],
    outfile: join(bundleDir, 'core-body.cjs'),
    // (renamed below to carry a hash of its content)
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: Object.keys(pkg.dependencies ?? {}),
    // core.js passes both: its own URL (where createRequire and the DSL's own-frame check start) and
    // an import() that resolves from core.js, as the ES module did (a vm.Script has no import()).
    define: { 'import.meta.url': '__wharf_core_url' },
    plugins: [lazyBuiltins(LAZY_BUILTINS)],
    // Whitespace and syntax minified, identifiers kept (class and function names read the same in
    // stack traces and `error.name`): less to read and hash at every start. `NODE_OPTIONS=
    // --enable-source-maps` maps traces back to src/ through the linked map.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
} finally {
  rmSync(entryFile, { force: true });
}
rewriteDynamicImports(join(bundleDir, 'core-body.cjs'));
// The name carries the content's hash, and so does the code cache's (core-body.<hash>.cjs.v8cache):
// V8 checks a cache against the source's length, not its bytes, so a cache must never outlive its code.
const bodyName = hashedName(join(bundleDir, 'core-body.cjs'));

const namespaces = [
  ...combined.map(({ namespace }) => namespace),
  ...internal.map((file) => internalNamespace(file)),
];
writeFileSync(core, coreModule(namespaces, bodyName));
copyFileSync(join(root, 'scripts/script-runner.js'), join(bundleDir, 'script-runner.js'));

for (const { bundled, compiled } of separate) {
  await build({
    absWorkingDir: root,
    entryPoints: { [bundled]: compiled },
    outdir: bundleDir,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: Object.keys(pkg.dependencies ?? {}),
    plugins: [throughCoreJs(toCore(join(bundleDir, `${bundled}.js`)))],
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

for (const { bundled, compiled, namespace } of combined) {
  // The names each entry exports, read from tsc's output of it (all constants: no live bindings to keep).
  const names = Object.keys(await import(pathToFileURL(join(root, compiled)).href));
  if (names.includes('default')) throw new Error(`bundle.mjs: ${compiled} has a default export`);
  const file = join(bundleDir, `${bundled}.js`);
  await mkdir(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `import { ${namespace} } from '${toCore(file)}';\nexport const { ${names.join(', ')} } = ${namespace};\n`,
  );
}

/** core.js: runs core-body.cjs (with V8's code cache when one fits) and exports its namespaces. */
function coreModule(names, bodyName) {
  return `// Made by packages/core/scripts/bundle.mjs: runs ${bodyName} with V8's code cache (script-runner.js).
import { createRequire } from 'node:module';
import { runScript } from './script-runner.js';

const requireHere = createRequire(import.meta.url);
const exported = runScript(
  requireHere('node:url').fileURLToPath(new URL('./${bodyName}', import.meta.url)),
  requireHere,
  { __wharf_core_url: import.meta.url, __wharf_core_import: (id) => import(id), __wharf_core_body: '${bodyName}' },
);
export const { ${names.join(', ')} } = exported;
`;
}

/**
 * Each of `ids` (Node's modules) becomes an object of getters, one per export the module has here at
 * build time, that require the module at the first read: named imports and \`import * as\` alike
 * (esbuild's interop copies getters without calling them), so loading core loads none of them.
 */
function lazyBuiltins(ids) {
  return {
    name: 'lazy-builtins',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => {
        if (args.namespace === 'lazy-builtin') return { path: args.path, external: true };
        return ids.includes(args.path) ? { path: args.path, namespace: 'lazy-builtin' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, async ({ path }) => {
        const names = Object.keys(await import(path)).filter((name) => name !== 'default');
        const getters = names.map(
          (name) =>
            `${JSON.stringify(name)}: { get: () => load()[${JSON.stringify(name)}], enumerable: true }`,
        );
        return {
          contents: `let loaded;\nconst load = () => (loaded ??= require(${JSON.stringify(path)}));\nmodule.exports = Object.defineProperties({}, {\n${getters.join(',\n')}\n});\n`,
          loader: 'js',
        };
      });
    },
  };
}

/**
 * The separate entries' imports of core's modules (../oci/index.js …) become reads of core.js's
 * namespaces, so they share core's classes and state instead of bundling second copies.
 */
function throughCoreJs(coreSpecifier) {
  return {
    name: 'through-core-js',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const file = resolve(args.resolveDir, args.path);
        if (!internal.includes(file) || args.namespace !== 'file') return undefined;
        return { path: file, namespace: 'wharf-core' };
      });
      b.onResolve({ filter: /^wharf-core-js$/ }, () => ({ path: coreSpecifier, external: true }));
      b.onLoad({ filter: /.*/, namespace: 'wharf-core' }, async ({ path }) => {
        const names = Object.keys(await import(pathToFileURL(path).href));
        const ns = internalNamespace(path);
        return {
          contents: `import { ${ns} } from 'wharf-core-js';\nexport const { ${names.join(', ')} } = ${ns};\n`,
          loader: 'js',
        };
      });
    },
  };
}

/**
 * `import("tar-stream")` → `__wharf_core_import("tar-stream")`: resolved from core.js like the ES module's own
 * import() was. Only the dependencies' specifiers are expected; anything else stops the build.
 */
function rewriteDynamicImports(file) {
  const deps = Object.keys(pkg.dependencies ?? {});
  let code = readFileSync(file, 'utf8');
  code = code.replace(/\bimport\("([^"]+)"\)/g, (all, id) => {
    if (!deps.includes(id)) throw new Error(`bundle.mjs: unexpected dynamic import ${all} in core`);
    return `__wharf_core_import("${id}")`;
  });
  if (/\bimport\s*\(/.test(code)) throw new Error('bundle.mjs: core-body.cjs still has an import()');
  writeFileSync(file, code);
}

/** The relative paths (resolved) of modules outside the entry's folder that `file` (tsc output) imports. */
function outsideImports(file) {
  const dir = dirname(file);
  const seen = new Set();
  const visit = (f) => {
    for (const [, spec] of readFileSync(f, 'utf8').matchAll(/from '(\.\.?\/[^']+)'/g)) {
      const target = resolve(dirname(f), spec);
      if (!target.startsWith(`${dir}/`)) seen.add(target);
      else if (!visited.has(target)) {
        visited.add(target);
        visit(target);
      }
    }
  };
  const visited = new Set([file]);
  visit(file);
  return [...seen];
}

/** core.js's relative specifier from `file` in dist/bundle/. */
function toCore(file) {
  return relative(dirname(file), core).replace(/^(?!\.)/, './');
}

/** The namespace of a module only the separate entries import: `dist/store/index.js` → `wharf_internal_store_index`. */
function internalNamespace(file) {
  return `wharf_internal_${relative(join(root, 'dist'), file).replace(/\.js$/, '').replace(/\W/g, '_')}`;
}

/**
 * Each export's bundle path (`oci/index`), its tsc output (`dist/oci/index.js`) and the namespace core.js
 * exports it under, named after its subpath (`./oci` → `wharf_oci`) as the CLI imports it.
 */
function entryPoints(exports) {
  return Object.entries(exports).map(([subpath, target]) => {
    const bundled = /^\.\/dist\/bundle\/(.+)\.js$/.exec(target.default)?.[1];
    if (!bundled) throw new Error(`bundle.mjs: export ${target.default} is not under ./dist/bundle/`);
    return { bundled, compiled: `dist/${bundled}.js`, namespace: namespaceOf(subpath.replace(/^\.\/?/, '')) };
  });
}
