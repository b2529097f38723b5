/**
 * A build.ts made runnable without jiti's Babel, keeping every line and column of the source, so the
 * DSL's error locations point where the user typed: Node's own type stripper (amaro, what
 * `node --experimental-strip-types` runs) blanks the types with spaces; the imports are blanked too and
 * run first, on a line of their own above the source (imports are hoisted: they run before the
 * module's code wherever they stand); `export default x` becomes `$w.default= x` in place. See
 * load-definition.ts `compiles` for the wrapper that runs the result.
 *
 * Only the usual shape is taken: erasable TypeScript, imports with plain bindings, and
 * `export default <expression>` or exported declarations. Anything else (an enum, a namespace, a
 * re-export, `export { … }`, `import.meta`, a dynamic import, a syntax error) gives `undefined`, and
 * jiti loads the file as before — with its own messages for syntax errors.
 */
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';

/** The wrapper's parameter the stripped code writes its exports to (`$w.default= …`). */
export const EXPORTS_PARAMETER = '$w';

/**
 * The first line of stripped code (the hoisted imports follow on it; the source starts on the next
 * line): a loader compiles such code with {@link EXPORTS_PARAMETER} and `lineOffset: -1`. Bump its
 * number with any change to what {@link stripDefinition} makes: kept copies are keyed by it, so no copy
 * of another output is run.
 */
export const STRIPPED_HEADER = '"use strict"; /* wharf: types stripped, imports hoisted (1) */';
/** How every version of {@link STRIPPED_HEADER} starts: a copy with another version is not run. */
export const STRIPPED_MARK = '"use strict"; /* wharf: types stripped';

interface Amaro {
  transformSync(source: string, options: { mode: 'strip-only' }): { code: string };
}
interface Lexer {
  init(): Promise<void>;
  parse(source: string): readonly [readonly LexedImport[], readonly LexedExport[], boolean, boolean];
}
interface LexedImport {
  readonly type: string;
  readonly specifier: string | null | undefined;
  readonly phase?: string | null;
  readonly attributes?: unknown;
  readonly importStart: number;
  readonly importEnd: number;
  readonly start: number;
}
interface LexedExport {
  readonly type: string;
  readonly name?: string;
  /** A declaration's name (`export default function app`); undefined for an expression. */
  readonly localName?: string;
  readonly exportStart: number;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/**
 * `source` (a build.ts) as the body of the loader's async wrapper, or `undefined` when it needs jiti.
 * Loads amaro and the lexer on first use: only a build.ts without a kept copy is stripped.
 */
export async function stripDefinition(source: string): Promise<string | undefined> {
  const require = createRequire(import.meta.url);
  let code: string;
  try {
    code = (require('amaro') as Amaro).transformSync(source, { mode: 'strip-only' }).code;
  } catch {
    return undefined; // not erasable TypeScript, or not valid: jiti decides (and words the error)
  } finally {
    unload(require, 'amaro');
  }
  let imports: readonly LexedImport[];
  let exports: readonly LexedExport[];
  let hasModuleSyntax: boolean;
  try {
    const lexer = require('es-module-lexer') as Lexer;
    await lexer.init();
    [imports, exports, , hasModuleSyntax] = lexer.parse(code);
  } catch {
    return undefined; // a shape the lexer cannot read (or no lexer installed): jiti loads it
  }
  // A CommonJS-style build.ts, or one naming the wrapper's parameter: jiti's wrapper semantics apply.
  if (!hasModuleSyntax || NAMES_EXPORTS_PARAMETER.test(code)) {
    return undefined;
  }
  const hoisted = hoistedImports(code, imports);
  const exported = exportsInPlace(code, exports);
  if (!hoisted || !exported) return undefined;
  const assignments = exported.names.map((name) => `${EXPORTS_PARAMETER}.${name} = ${name};`).join(' ');
  const body = applyEdits(code, [...hoisted.edits, ...exported.edits]);
  return `${STRIPPED_HEADER} ${hoisted.code.join(' ')}\n${body}\n${assignments}`;
}

/**
 * Drops `name`'s modules from the require cache, so the garbage collector takes them: amaro's
 * WebAssembly memory (~19 MB) and its 3.7 MB of source would otherwise stay for the whole build.
 */
function unload(require: NodeJS.Require, name: string): void {
  let dir: string;
  try {
    dir = dirname(require.resolve(name));
  } catch {
    return;
  }
  for (const file of Object.keys(require.cache)) {
    if (file.startsWith(`${dir}${sep}`)) delete require.cache[file];
  }
}

const IDENTIFIER = '[A-Za-z_$][\\w$]*';
const NAME = new RegExp(`^${IDENTIFIER}$`);
/** The code names {@link EXPORTS_PARAMETER} (as a whole identifier). */
const NAMES_EXPORTS_PARAMETER = new RegExp(`(?<![\\w$])\\${EXPORTS_PARAMETER}(?![\\w$])`);
const BINDING = new RegExp(`^(${IDENTIFIER})(?:\\s+as\\s+(${IDENTIFIER}))?$`);
const CLAUSE = new RegExp(
  `^(?:(${IDENTIFIER})\\s*(?:,\\s*|$))?(?:\\*\\s*as\\s+(${IDENTIFIER})|\\{([^{}]*)\\})?$`,
);
/** Each static import blanked where it stands, and as `const { … } = await jitiImport("…");` to run first. */
function hoistedImports(
  code: string,
  imports: readonly LexedImport[],
): { edits: Edit[]; code: string[] } | undefined {
  const edits: Edit[] = [];
  const hoisted: string[] = [];
  for (const lexed of imports) {
    if (lexed.type !== 'static' || lexed.phase || lexed.attributes || typeof lexed.specifier !== 'string') {
      return undefined;
    }
    const clause = code
      .slice(lexed.importStart + 'import'.length, lexed.start - 1)
      .trim()
      .replace(/\s*\bfrom$/, '');
    const text = importCode(clause, lexed.specifier);
    if (text === undefined) return undefined;
    hoisted.push(text);
    const statement = code.slice(lexed.importStart, lexed.importEnd);
    edits.push({ start: lexed.importStart, end: lexed.importEnd, text: statement.replace(/[^\r\n]/g, ' ') });
  }
  return { edits, code: hoisted };
}

/** The code of one import clause (`a, { b as c }`, `* as ns`, or none) importing `specifier`. */
function importCode(clause: string, specifier: string): string | undefined {
  const load = `await jitiImport(${JSON.stringify(specifier)})`;
  const match = CLAUSE.exec(clause);
  if (!match) return undefined;
  const [, defaultName, namespace, list] = match;
  const fields = defaultName ? [`default: ${defaultName}`] : [];
  for (const item of (list ?? '').split(',')) {
    if (item.trim() === '') continue; // a trailing comma, or a blanked `type X` binding
    const binding = BINDING.exec(item.trim());
    if (!binding) return undefined;
    const [, imported = '', local] = binding;
    fields.push(local && local !== imported ? `${imported}: ${local}` : imported);
  }
  const destructured = fields.length > 0 ? `{ ${fields.join(', ')} }` : undefined;
  if (namespace) {
    return `const ${namespace} = ${load}${destructured ? `, ${destructured} = ${namespace}` : ''};`;
  }
  return destructured ? `const ${destructured} = ${load};` : `${load};`;
}

const DEFAULT_EXPORT = /^export[ \t]+default\b[ \t]*/;
const DECLARATION_EXPORT = /^export(?=[ \t\n]+(?:const|let|var|function|class|async[ \t]+function)\b)/;

/** `export default x` as `$w.default= x`, and `export` before a declaration blanked (its names kept). */
function exportsInPlace(
  code: string,
  exports: readonly LexedExport[],
): { edits: Edit[]; names: string[] } | undefined {
  const edits = new Map<number, Edit>();
  const names: string[] = [];
  for (const lexed of exports) {
    if (lexed.type !== 'direct' || lexed.name === undefined) return undefined;
    const at = code.slice(lexed.exportStart);
    const defaultExport = DEFAULT_EXPORT.exec(at);
    if (defaultExport) {
      // A declaration would lose its hoisting and its name as an expression: jiti takes those.
      if (lexed.localName !== undefined) return undefined;
      if (/^(?:async[ \t]+function|function|class)\b/.test(at.slice(defaultExport[0].length)))
        return undefined;
      const text = `${EXPORTS_PARAMETER}.default=`;
      if (text.length > defaultExport[0].length) return undefined;
      const end = lexed.exportStart + defaultExport[0].length;
      edits.set(lexed.exportStart, {
        start: lexed.exportStart,
        end,
        text: text.padEnd(end - lexed.exportStart),
      });
      continue;
    }
    if (!DECLARATION_EXPORT.test(at) || !NAME.test(lexed.name)) return undefined;
    const end = lexed.exportStart + 'export'.length;
    edits.set(lexed.exportStart, { start: lexed.exportStart, end, text: ' '.repeat('export'.length) });
    names.push(lexed.name);
  }
  return { edits: [...edits.values()], names };
}

function applyEdits(code: string, edits: readonly Edit[]): string {
  let out = '';
  let at = 0;
  for (const edit of [...edits].sort((a, b) => a.start - b.start)) {
    out += code.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return out + code.slice(at);
}
