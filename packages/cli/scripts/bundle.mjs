// Bundles the CLI (src/, with commander) into dist/main.js, the `wharf` bin, after tsc has built dist/.
// Node's ESM loader resolved, read and linked the CLI's ~40 modules one by one, and lexed commander's
// CommonJS files for their export names, on every run, `wharf --version` included; one file loads in a
// fraction of that. It is made from src/ (not from tsc's dist/main.js, which this file replaces), so it
// is never stale however tsc -b decides what to re-emit. @wharf/core is not bundled in: build.ts files
// import it too (load-definition.ts points them at the CLI's copy) and must get the same module; jiti
// stays external because it loads its transform (babel.cjs) from beside itself.
//
// The CLI's imports of @wharf/core and its subpaths (@wharf/core/oci …) all become one import of core's
// bundle, dist/bundle/core.js, found beside what `@wharf/core` resolves to: Node resolved each of the
// 14 subpaths through core's package.json `exports` and loaded its two-line re-export file on every
// run. Every subpath file re-exports from that same core.js, so a build.ts importing `@wharf/core` gets
// the very module the CLI uses (one WharfError class, one store).
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The name core.js exports a subpath's namespace under (packages/core/scripts/bundle.mjs). */
const namespaceOf = (subpath) => `wharf_${subpath ? subpath.replace(/\W/g, '_') : 'root'}`;
const CORE = /^@wharf\/core(?:\/([a-z]+))?$/;
const CORE_BUNDLE = 'wharf-core-bundle';

/** Rewrites `@wharf/core[/x]` imports to destructure core.js's namespaces (see the top comment). */
const oneCoreModule = {
  name: 'one-core-module',
  setup(b) {
    b.onResolve({ filter: CORE }, (args) => ({ path: args.path, namespace: 'wharf-core' }));
    b.onResolve({ filter: new RegExp(`^${CORE_BUNDLE}$`) }, () => ({
      path: CORE_BUNDLE,
      namespace: 'wharf-core',
    }));
    b.onLoad({ filter: /.*/, namespace: 'wharf-core' }, async ({ path }) => {
      if (path === CORE_BUNDLE) {
        // Resolved at run time, like the external import it replaces: wherever @wharf/core is installed.
        return {
          contents: `export const core = await import(new URL('./core.js', import.meta.resolve('@wharf/core')).href);`,
          loader: 'js',
        };
      }
      const subpath = CORE.exec(path)[1];
      // The names this entry exports, read from core's own built entry (all constants, as in core's bundle).
      const names = Object.keys(await import(import.meta.resolve(path)));
      const ns = namespaceOf(subpath);
      return {
        contents: `import { core } from '${CORE_BUNDLE}';\nif (!core.${ns}) throw new Error('@wharf/core is older than this CLI: its bundle has no ${ns}');\nexport const { ${names.join(', ')} } = core.${ns};\n`,
        loader: 'js',
      };
    });
  },
};

/**
 * commander requires child_process at load, for executable subcommands wharf does not have: it gets
 * a stand-in that requires the real module on first use, so a start does not load child_process (and
 * net, which it pulls in: ~10–20 ms of a no-change build here).
 */
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'child_process', namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
      contents:
        "let real;\nmodule.exports = new Proxy({}, { get: (_, key) => (real ??= require('node:child_process'))[key] });\n",
      loader: 'js',
    }));
  },
};

/**
 * The CLI's imports of Node's modules become require()s: an ES import of a built-in module makes Node
 * build its ES facade, which reads every export, lazy getters too — `node:crypto`'s loaded webcrypto,
 * `node:fs`'s its streams — work a require() (esbuild's __toESM copies getters without calling them)
 * never does.
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'import-statement' ? { path: args.path, namespace: 'builtin-require' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin-require' }, ({ path }) => ({
      contents: `module.exports = require(${JSON.stringify(path)});\n`,
      loader: 'js',
    }));
  },
};

rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  outdir: 'dist',
  // main.js holds what `wharf --version` needs; the program (and the static imports of @wharf/core
  // that come with it) is a chunk main.js imports when it runs a command.
  chunkNames: 'bundle/[name]-[hash]',
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['jiti'],
  plugins: [oneCoreModule, lazyChildProcessForCommander, builtinsByRequire],
  // commander is CommonJS and require()s Node's modules: give the bundle a real `require`.
  banner: {
    js: "import { createRequire as __wharfCreateRequire } from 'node:module';\nconst require = __wharfCreateRequire(import.meta.url);",
  },
  define: { WHARF_CLI_VERSION: JSON.stringify(pkg.version) },
  // Whitespace and syntax minified (names kept): V8 parses the smaller file faster at every start
  // (measured on core.js: 849 → 633 kB, its import ~20 % faster). `NODE_OPTIONS=--enable-source-maps`
  // maps --debug stack traces back to src/.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});

await warmUp();

/**
 * Runs the new CLI on two small builds (a build.ts and a Dockerfile; cold, then no change with
 * WHARF_WRITE_CODE_CACHE=1), so
 * core's bundle keeps V8's code cache of what the second run compiled beside its code
 * (packages/core/scripts/bundle.mjs says why): the next no-change build starts without compiling
 * core. A failure here costs only that speed, so it warns and the build goes on.
 */
async function warmUp() {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { execFileSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'wharf-warm-up-'));
  try {
    mkdirSync(join(dir, 'context/static'), { recursive: true });
    writeFileSync(join(dir, 'context/hello.txt'), 'hello\n');
    writeFileSync(join(dir, 'context/static/index.html'), '<p>hello</p>\n');
    writeFileSync(
      join(dir, 'context/build.ts'),
      `import { context, define, stage } from '@wharf/core';
const app = stage('app').from('scratch').workdir('/app').copy('hello.txt', './').copy('static/', './static/')
  .env({ GREETING: 'hello' }).user('1000:1000').expose(8080).cmd(['/app/hello']);
export default define({ target: app, context: context('.').ignore(['build.ts']) });
`,
    );
    writeFileSync(
      join(dir, 'context/Dockerfile'),
      'FROM scratch\nWORKDIR /app\nCOPY hello.txt ./\nCOPY static/ ./static/\nENV GREETING=hello\nUSER 1000:1000\nEXPOSE 8080\nCMD ["/app/hello"]\n',
    );
    const build = (input, out, env = {}) =>
      execFileSync(
        process.execPath,
        [
          join(root, 'dist/main.js'),
          'build',
          ...input,
          '--cache-dir',
          join(dir, 'cache'),
          '--progress',
          'plain',
          '-o',
          `type=oci,dest=${join(dir, out)}`,
        ],
        { env: { ...process.env, WHARF_USERNS: 'off', ...env }, stdio: 'pipe' },
      );
    const buildTs = [join(dir, 'context/build.ts')];
    const dockerfile = ['-f', join(dir, 'context/Dockerfile'), join(dir, 'context')];
    build(buildTs, 'cold-ts');
    build(dockerfile, 'cold-dockerfile');
    // The second run starts from the first one's cache and adds what it compiled itself.
    build(buildTs, 'warm-ts', { WHARF_WRITE_CODE_CACHE: '1' });
    build(dockerfile, 'warm-dockerfile', { WHARF_WRITE_CODE_CACHE: '1' });
  } catch (error) {
    console.warn(
      `bundle.mjs: the warm-up build failed, no code cache (start-up is slower): ${error.message.split('\n')[0]}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
