/**
 * Loads a build.ts (or .js/.mts), so users need no build step, and finds its target: stripped of its
 * types in place when it can be (strip-definition.ts), else with jiti.
 *
 * `@wharf/core` imports inside build.ts resolve to the CLI's own copy, so a build.ts works from any
 * folder — with or without @wharf/core installed beside it — and its values come from the same module.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { runInThisContext } from 'node:vm';
import { type BuildGraph, type Definition, define, toGraph, WharfError } from '@wharf/core';
import { definitionPlatforms, isDefinition, isStage } from '@wharf/core/dsl';
import { defaultStoreRoot } from '@wharf/core/engine';
import { EXPORTS_PARAMETER, STRIPPED_HEADER, STRIPPED_MARK, stripDefinition } from './strip-definition.js';
import { version } from './version.js';

export interface LoadedDefinition {
  /** Absolute path of the build definition file. */
  readonly file: string;
  /** The folder relative context paths resolve against. */
  readonly dir: string;
  readonly graph: BuildGraph;
  /** `define({ lint })`: the definition's lint settings. */
  readonly lint?: Definition['lint'];
  /** The platforms the definition (or the chosen target) asks for, used when `--platform` is not given. */
  readonly platforms?: readonly string[];
  /** `define({ cacheFrom, cacheTo })`: used when the command line gives none. */
  readonly cacheFrom?: readonly string[];
  readonly cacheTo?: readonly string[];
}

export async function loadDefinition(
  file: string,
  target?: string,
  options: { readonly cacheDir?: string } = {},
): Promise<LoadedDefinition> {
  const { file: path, dir, definition } = await loadDefinitionValue(file, options);
  return {
    file: path,
    dir,
    graph: toGraph(definition, target === undefined ? {} : { target }),
    ...(definition.lint ? { lint: definition.lint } : {}),
    ...platformsOf(definition, target),
    ...(definition.cacheFrom ? { cacheFrom: definition.cacheFrom } : {}),
    ...(definition.cacheTo ? { cacheTo: definition.cacheTo } : {}),
  };
}

function platformsOf(definition: Definition, target: string | undefined) {
  const platforms = definitionPlatforms(definition, target);
  return platforms ? { platforms } : {};
}

/** Loads a build.ts as a `define()` value (a bare stage or object of stages becomes one), for `wharf bake`. */
export async function loadDefinitionValue(
  file: string,
  options: { readonly cacheDir?: string } = {},
): Promise<{ readonly file: string; readonly dir: string; readonly definition: Definition }> {
  const path = checkedPath(file);
  const exported = await importDefault(path, file, options.cacheDir ?? defaultStoreRoot());
  const value = asDefinition(exported, file);
  return {
    file: path,
    dir: dirname(path),
    definition: isDefinition(value) ? value : define({ target: value }),
  };
}

function checkedPath(file: string): string {
  const path = resolve(file);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new WharfError('DEFINITION_NOT_FOUND', `build definition not found: ${file}`, {
      hint: 'pass the path of your build.ts, e.g. wharf dockerfile ./build.ts',
    });
  }
  return path;
}

/**
 * @wharf/core's entries (its package.json `exports`) a kept copy may import, each loaded as the
 * program imports core: in the CLI's bundle that is a namespace of the core.js it has already run — no
 * module resolution, no ES module to load for the definition's `import … from '@wharf/core'`.
 * `testing` (bundled on its own) is imported through the module system.
 */
const CORE_ENTRIES: Readonly<Record<string, () => Promise<unknown>>> = {
  '@wharf/core': () => import('@wharf/core'),
  '@wharf/core/archive': () => import('@wharf/core/archive'),
  '@wharf/core/bake': () => import('@wharf/core/bake'),
  '@wharf/core/dockerfile': () => import('@wharf/core/dockerfile'),
  '@wharf/core/dsl': () => import('@wharf/core/dsl'),
  '@wharf/core/engine': () => import('@wharf/core/engine'),
  '@wharf/core/export': () => import('@wharf/core/export'),
  '@wharf/core/image': () => import('@wharf/core/image'),
  '@wharf/core/ir': () => import('@wharf/core/ir'),
  '@wharf/core/layout': () => import('@wharf/core/layout'),
  '@wharf/core/lint': () => import('@wharf/core/lint'),
  '@wharf/core/lock': () => import('@wharf/core/lock'),
  '@wharf/core/oci': () => import('@wharf/core/oci'),
  '@wharf/core/registry': () => import('@wharf/core/registry'),
  '@wharf/core/sbom': () => import('@wharf/core/sbom'),
  '@wharf/core/sign': () => import('@wharf/core/sign'),
};

const CORE_SPECIFIERS: ReadonlySet<string> = new Set([...Object.keys(CORE_ENTRIES), '@wharf/core/testing']);

/** `@wharf/core` and each subpath → the CLI's own copy (jiti tries the longer aliases first). */
let aliases: Record<string, string> | undefined;
function coreAliases(): Record<string, string> {
  aliases ??= Object.fromEntries(
    [...CORE_SPECIFIERS].map((specifier) => [specifier, import.meta.resolve(specifier)]),
  );
  return aliases;
}

async function importDefault(path: string, shown: string, cacheDir: string): Promise<unknown> {
  let module: { default?: unknown };
  try {
    module = (await untilSettledOrStuck(importModule(path, cacheDir), shown)) as { default?: unknown };
  } catch (error) {
    if (error instanceof WharfError) throw error;
    const syntax = syntaxError(error, path, shown);
    if (syntax) throw syntax;
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new WharfError('DEFINITION_FAILED', `${shown} failed while loading: ${message}`, {
      hint: 'fix the error in the build definition (run with --debug for its stack trace)',
      cause: error,
    });
  }
  if (!module || !('default' in module) || module.default === undefined) {
    throw new WharfError('DEFINITION_NO_DEFAULT', `${shown} has no default export`, {
      hint: "end it with: export default stage('app').from('…')…",
    });
  }
  return module.default;
}

/**
 * The module's exports: from wharf's own copy of its transpiled code when it has one (no transform to
 * load); else stripped of its types in place (see strip-definition.ts) and kept; else through jiti,
 * keeping jiti's code when the module can run without jiti.
 */
async function importModule(path: string, cacheDir: string): Promise<unknown> {
  const fast = /\.[cm]?ts$/.test(path) ? transpiledCopy(path, cacheDir) : undefined;
  // A copy V8 rejects (kept by another wharf, or spoiled) is made again below.
  const kept = fast?.code !== undefined && runsWithoutJiti(fast.code) ? compiles(fast.code, path) : undefined;
  if (kept) return runTranspiled(kept, path);
  if (fast) {
    const stripped = await stripDefinition(fast.source);
    const compiled =
      stripped !== undefined && runsWithoutJiti(stripped) ? compiles(stripped, path) : undefined;
    if (stripped !== undefined && compiled) {
      keepCopy(fast.file, stripped);
      return runTranspiled(compiled, path);
    }
  }
  // Loaded here, not at start-up (only commands that read a build.ts need it), and required: jiti is
  // 190 KB of CommonJS, which an ESM import would first scan for its export names.
  const { createJiti } = createRequire(import.meta.url)('jiti') as typeof import('jiti');
  const jiti = createJiti(import.meta.url, {
    alias: coreAliases(),
    // Transpiled build.ts files are cached (by content) beside wharf's other caches: a warm start
    // skips loading the TypeScript transform.
    fsCache: join(cacheDir, 'jiti'),
    moduleCache: false,
    interopDefault: false,
  });
  const module = await jiti.import(path);
  if (fast) {
    // jiti's own options for a TypeScript import (its fsCache answers: nothing is transpiled twice).
    const code = jiti.transform({ filename: path, source: fast.source, ts: true, async: true });
    if (runsWithoutJiti(code)) keepCopy(fast.file, code);
  }
  return module;
}

/**
 * A warm start without a transform to load: a build.ts importing only `@wharf/core` and Node's
 * modules — the usual one — is kept under the cache dir, by content, as the first run made it
 * (stripped, or jiti's code), and run the same way (same wrapper, same file name, so stack frames and
 * the DSL's source locations are the same).
 */
function transpiledCopy(
  path: string,
  cacheDir: string,
): { source: string; file: string; code?: string } | undefined {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // STRIPPED_HEADER: a copy of another strip-definition.ts output (or from before build.ts files were
  // stripped) is never run by this one, which would compile it with the wrong wrapper.
  const key = createHash('sha256')
    .update(`wharf ${version}\0${STRIPPED_HEADER}\0${path}\0${source}`)
    .digest('hex');
  const file = join(cacheDir, 'definitions', `${key}.js`);
  try {
    return { source, file, code: readFileSync(file, 'utf8') };
  } catch {
    return { source, file };
  }
}

/** The specifiers a kept copy may import: @wharf/core's entries and Node's modules. */
const ALLOWED_IMPORT = /jitiImport\("([^"]+)"\)/g;

function runsWithoutJiti(code: string): boolean {
  const imports = [...code.matchAll(ALLOWED_IMPORT)];
  const jitiNames = code.match(/\bjiti\w*/g) ?? [];
  return (
    jitiNames.length === imports.length &&
    imports.every(([, id = '']) => CORE_SPECIFIERS.has(id) || isBuiltin(id)) &&
    !/\brequire\s*\(|\bimport\s*[(.]/.test(code)
  );
}

function keepCopy(file: string, code: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, code);
    renameSync(temp, file);
  } catch {
    // only a start-up shortcut: the next run strips (or loads through jiti) again
  }
}

type Wrapped = (...args: unknown[]) => Promise<void>;

/**
 * Transpiled code in the loader's wrapper, with jiti's parameters; stripped code (strip-definition.ts)
 * also gets the parameter it writes its exports to, and its first line (the hoisted imports) is line 0,
 * so the source's lines keep their numbers. `undefined` when V8 rejects the code: jiti then loads the
 * file and words the error.
 */
function compiles(code: string, path: string): Wrapped | undefined {
  const stripped = code.startsWith(STRIPPED_HEADER);
  if (!stripped && code.startsWith(STRIPPED_MARK)) return undefined; // another version's copy
  const parameters = `exports, require, module, __filename, __dirname, jitiImport, jitiESMResolve${stripped ? `, ${EXPORTS_PARAMETER}` : ''}`;
  try {
    return runInThisContext(`(async function (${parameters}) { ${code}\n});`, {
      filename: path,
      lineOffset: stripped ? -1 : 0,
    }) as Wrapped;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

async function runTranspiled(wrapped: Wrapped, path: string): Promise<unknown> {
  // A core specifier is the CLI's own copy (what coreAliases() maps it to for jiti); only the entries
  // the definition imports are loaded.
  const jitiImport = (id: string) => {
    const entry = CORE_ENTRIES[id];
    return Object.hasOwn(CORE_ENTRIES, id) && entry ? entry().then(asNamespace) : import(id);
  };
  const module = { exports: {} as Record<string, unknown> };
  await wrapped(
    module.exports,
    undefined,
    module,
    path,
    dirname(path),
    jitiImport,
    undefined,
    module.exports,
  );
  return module.exports;
}

/**
 * What `import()` gives for an ES module: a bundled entry (an object of getters, plus the `default`
 * esbuild's interop adds — core's entries have no default export) as a namespace's shape: the exports
 * in sorted order, read-only, `[object Module]`. A real namespace (tests load core's sources) is kept.
 */
function asNamespace(loaded: unknown): unknown {
  const object = loaded as Record<string, unknown>;
  if (Object.prototype.toString.call(object) === '[object Module]') return object;
  const namespace = Object.create(null) as Record<string | symbol, unknown>;
  for (const key of Object.keys(object).sort()) {
    if (key !== 'default') Object.defineProperty(namespace, key, { value: object[key], enumerable: true });
  }
  Object.defineProperty(namespace, Symbol.toStringTag, { value: 'Module' });
  return Object.preventExtensions(namespace);
}

/**
 * jiti reports a syntax error as `ParseError: <what>` with ` <absolute file>:<line>:<col>` on the next
 * line (the file may be one build.ts imports): told as `file:line:col: syntax error: <what>`.
 */
function syntaxError(error: unknown, path: string, shown: string): WharfError | undefined {
  if (!(error instanceof Error)) return undefined;
  const [first = '', ...rest] = error.message.split('\n');
  const what = /^ParseError: (.*)$/.exec(first)?.[1]?.trim();
  const where = rest.map((line) => /^\s*(\S.*):(\d+):(\d+)\s*$/.exec(line)).find((m) => m !== null);
  if (what === undefined || !where) return undefined;
  const [, file = '', line, column] = where;
  return new WharfError('DEFINITION_SYNTAX', `syntax error: ${what || 'unexpected input'}`, {
    hint: 'fix the build definition at that line and column',
    location: {
      file: resolve(file) === path ? shown : relative(process.cwd(), file),
      line: Number(line),
      column: Number(column),
    },
    cause: error,
  });
}

/**
 * `loading`, or a clear error when it can never settle: a top-level `await` on a promise nothing will
 * resolve lets the event loop run dry, and Node would exit with code 13 and no word. `beforeExit` is
 * emitted exactly then.
 */
async function untilSettledOrStuck<T>(loading: Promise<T>, shown: string): Promise<T> {
  let onEmptyLoop: (() => void) | undefined;
  const stuck = new Promise<never>((_, reject) => {
    onEmptyLoop = () =>
      reject(
        new WharfError(
          'DEFINITION_NEVER_SETTLED',
          `${shown} did not finish loading: its top-level await never settled`,
          {
            hint: 'make sure every promise build.ts awaits at the top level resolves or rejects (a timer, I/O or a callback must settle it)',
          },
        ),
      );
    process.once('beforeExit', onEmptyLoop);
  });
  try {
    return await Promise.race([loading, stuck]);
  } finally {
    if (onEmptyLoop) process.off('beforeExit', onEmptyLoop);
  }
}

function asDefinition(value: unknown, shown: string) {
  if (isStage(value) || isDefinition(value)) return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length > 0 && entries.every(([, v]) => isStage(v))) {
      return define({ targets: Object.fromEntries(entries) as Record<string, never> });
    }
  }
  throw new WharfError(
    'DEFINITION_INVALID',
    `the default export of ${shown} is not a stage (got ${describe(value)})`,
    {
      hint: "export a stage (export default stage('app').from(…)), an object of stages, or define({ … })",
    },
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object')
    return `an object with keys ${Object.keys(value).slice(0, 5).join(', ') || '(none)'}`;
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}
