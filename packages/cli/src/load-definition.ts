/**
 * Loads a build.ts (or .js/.mts) with jiti, so users need no build step, and finds its target.
 *
 * `@wharf/core` imports inside build.ts resolve to the CLI's own copy, so a build.ts works from any
 * folder — with or without @wharf/core installed beside it — and its values come from the same module.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { type BuildGraph, type Definition, define, toGraph, WharfError } from '@wharf/core';
import { isDefinition, isStage } from '@wharf/core/dsl';
import { defaultStoreRoot } from '@wharf/core/engine';
import { createJiti } from 'jiti';

export interface LoadedDefinition {
  /** Absolute path of the build definition file. */
  readonly file: string;
  /** The folder relative context paths resolve against. */
  readonly dir: string;
  readonly graph: BuildGraph;
  /** `define({ lint })`: the definition's lint settings. */
  readonly lint?: Definition['lint'];
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
    ...(definition.cacheFrom ? { cacheFrom: definition.cacheFrom } : {}),
    ...(definition.cacheTo ? { cacheTo: definition.cacheTo } : {}),
  };
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

/** @wharf/core's subpath exports (its package.json `exports`), which a build.ts may import too. */
const CORE_SUBPATHS = [
  'archive',
  'bake',
  'dockerfile',
  'dsl',
  'engine',
  'export',
  'image',
  'ir',
  'layout',
  'lint',
  'lock',
  'oci',
  'registry',
  'sbom',
  'sign',
  'testing',
];

/** `@wharf/core` and each subpath → the CLI's own copy (jiti tries the longer aliases first). */
function coreAliases(): Record<string, string> {
  return Object.fromEntries(
    ['@wharf/core', ...CORE_SUBPATHS.map((name) => `@wharf/core/${name}`)].map((specifier) => [
      specifier,
      import.meta.resolve(specifier),
    ]),
  );
}

async function importDefault(path: string, shown: string, cacheDir: string): Promise<unknown> {
  const jiti = createJiti(import.meta.url, {
    alias: coreAliases(),
    // Transpiled build.ts files are cached (by content) beside wharf's other caches: a warm start
    // skips loading the TypeScript transform.
    fsCache: join(cacheDir, 'jiti'),
    moduleCache: false,
    interopDefault: false,
  });
  let module: { default?: unknown };
  try {
    module = (await untilSettledOrStuck(jiti.import(path), shown)) as { default?: unknown };
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
