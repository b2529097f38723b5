import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { namespaceOf } from '../../core/scripts/core-namespace.mjs';
import { hashedName } from '../../core/scripts/hashed-name.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const CORE = /^@wharf\/core(?:\/([a-z]+))?$/;

/** `@wharf/core[/x]` imports read core.js's namespaces from the program's `__wharf_core` parameter. */
const coreFromParameter = {
  name: 'core-from-parameter',
  setup(b) {
    b.onResolve({ filter: CORE }, (args) => ({ path: args.path, namespace: 'wharf-core' }));
    b.onLoad({ filter: /.*/, namespace: 'wharf-core' }, ({ path }) => {
      const ns = namespaceOf(CORE.exec(path)[1]);
      return {
        contents: `if (!__wharf_core.${ns}) throw new Error('@wharf/core is older than this CLI: its bundle has no ${ns}');\nmodule.exports = __wharf_core.${ns};\n`,
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
// The program (commands, commander, the renderers) as a script run by vm.Script, which takes V8's code
// cache: Node 20 keeps none for ES modules, and compiling this 130 kB chunk and commander's option
// set-up was a tenth of a no-change build's CPU. Its @wharf/core imports read core.js's namespaces
// (__wharf_core); import.meta and import() come from main.js (see programLoader()).
await build({
  absWorkingDir: root,
  entryPoints: ['src/program.ts'],
  outfile: 'dist/bundle/program.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['jiti', 'amaro', 'es-module-lexer'],
  plugins: [coreFromParameter, lazyChildProcessForCommander],
  define: {
    WHARF_CLI_VERSION: JSON.stringify(pkg.version),
    'import.meta.url': '__wharf_cli_url',
    'import.meta.resolve': '__wharf_cli_resolve',
  },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
const programName = hashedName(join(root, 'dist/bundle/program.cjs'), (code) => {
  const edited = code.replace(/(?<![.\w$])import\((\w+)\)/g, (all, id) => {
    // jitiImport's `import(id)` (load-definition.ts): resolved from main.js, as from the chunk before.
    if (id !== 'id') throw new Error(`bundle.mjs: unexpected dynamic import ${all} in the program`);
    return `__wharf_cli_import(${id})`;
  });
  // A vm.Script has no import() of its own: any other one would fail only when it runs.
  if (/(?<![.\w$])import\s*\(/.test(edited)) throw new Error('bundle.mjs: the program still has an import()');
  return edited;
});

await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  outdir: 'dist',
  allowOverwrite: true,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [programLoader(programName), builtinsByRequire],
  banner: {
    js: "import { createRequire as __wharfCreateRequire } from 'node:module';\nconst require = __wharfCreateRequire(import.meta.url);",
  },
  define: { WHARF_CLI_VERSION: JSON.stringify(pkg.version) },
  // Whitespace and syntax minified (names kept): V8 parses the smaller file faster at every start.
  // `NODE_OPTIONS=--enable-source-maps` maps --debug stack traces back to src/.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});

/**
 * main.ts's `import('./program.js')` → a module whose `run` loads core.js (wherever @wharf/core is
 * installed) and runs the program script with V8's code cache beside it when one fits (written by the
 * warm-up below), through core's script-runner.js, as core.js runs core's body.
 */
function programLoader(name) {
  return {
    name: 'program-loader',
    setup(b) {
      b.onResolve({ filter: /^\.\/program\.js$/ }, () => ({ path: 'program', namespace: 'program-loader' }));
      b.onLoad({ filter: /.*/, namespace: 'program-loader' }, () => ({
        loader: 'js',
        resolveDir: join(root, 'src'),
        contents: `
/** Runs wharf with \`args\`; resolves the exit code. */
export async function run(args) {
  const coreDir = new URL('./', import.meta.resolve('@wharf/core'));
  const core = await import(new URL('./core.js', coreDir).href);
  const { runScript } = await import(new URL('./script-runner.js', coreDir).href);
  const file = require('node:url').fileURLToPath(new URL('./bundle/${name}', import.meta.url));
  const program = runScript(file, require, {
    __wharf_core: core,
    __wharf_cli_url: import.meta.url,
    __wharf_cli_import: (id) => import(id),
    __wharf_cli_resolve: (id) => import.meta.resolve(id),
  });
  return program.run(args);
}
`,
      }));
    },
  };
}

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
