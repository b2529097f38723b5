/**
 * A tiny JavaScript value printer for generated code: single-quoted strings, identifiers or quoted keys,
 * and arrays/objects/calls kept on one line when they fit the line width, one element per line otherwise
 * (the way Biome formats them, with trailing commas).
 */

export const LINE_WIDTH = 110;

/** Code written as is (a variable name). */
export class Raw {
  constructor(readonly code: string) {}
}

/** `callee(args…)`. */
export class Call {
  constructor(
    readonly callee: string,
    readonly args: readonly Value[],
  ) {}
}

/** An arrow function `(param) => body` whose body is a method chain (ONBUILD). */
export class Chain {
  constructor(
    readonly param: string,
    readonly calls: readonly Call[],
  ) {}
}

export type Value =
  | string
  | number
  | boolean
  | undefined
  | Raw
  | Call
  | Chain
  | readonly Value[]
  | { readonly [key: string]: Value };

const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof let new null return super switch this throw true try typeof var void while with yield await implements interface package private protected public static arguments eval undefined NaN Infinity'.split(
    ' ',
  ),
);

export function isIdentifier(name: string): boolean {
  return /^[A-Za-z_$][\w$]*$/.test(name) && !RESERVED.has(name);
}

/**
 * A string literal: single-quoted, or double-quoted when that saves escapes (as Biome prints it); a text
 * with `${` is a template literal (`\${` escaped), so linters do not take it for a forgotten interpolation.
 */
export function stringLiteral(text: string): string {
  if (text.includes('${')) return `\`${escapeTemplate(text).replace(/\n/g, '\\n').replace(/\r/g, '\\r')}\``;
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === quote) out += `\\${quote}`;
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code === 0x2028 || code === 0x2029 || (code >= 0xd800 && code <= 0xdfff)) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}${quote}`;
}

/** Text inside backticks: `\`, `` ` ``, `${` and the control characters other than a line break escaped. */
function escapeTemplate(text: string): string {
  let out = '';
  for (const ch of text.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${')) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\r') out += '\\r';
    else if (
      (code < 0x20 && ch !== '\n' && ch !== '\t') ||
      code === 0x7f ||
      code === 0x2028 ||
      code === 0x2029
    )
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/**
 * A template literal holding a multi-line script, laid out as an indented block: `code` is the source,
 * `value` the string it evaluates to (the DSL's `run()` removes the layout again).
 */
export function templateBlock(text: string, indent: string): { code: string; value: string } {
  const pad = (line: string, inner: string) => (line === '' ? '' : `${inner}${line}`);
  const code = escapeTemplate(text)
    .split('\n')
    .map((line) => pad(line, `${indent}  `));
  const value = text.split('\n').map((line) => pad(line, `${indent}  `));
  return { code: `\`\n${code.join('\n')}\n${indent}\``, value: `\n${value.join('\n')}\n${indent}` };
}

/** A template literal with exactly this text (file contents: no layout to remove). */
export function exactTemplate(text: string): string {
  return `\`${escapeTemplate(text)}\``;
}

function key(name: string): string {
  if (name === '__proto__') return "['__proto__']";
  return isIdentifier(name) || /^(0|[1-9]\d*)$/.test(name) ? name : stringLiteral(name);
}

const entries = (object: { readonly [key: string]: Value }) =>
  Object.entries(object).filter(([, v]) => v !== undefined);

/** The value on one line. */
export function inline(value: Value): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return stringLiteral(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Raw) return value.code;
  if (value instanceof Call) return `${value.callee}(${value.args.map(inline).join(', ')})`;
  if (value instanceof Chain)
    return `(${value.param}) => ${value.param}${value.calls.map((c) => `.${inline(c)}`).join('')}`;
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  const parts = entries(value as { readonly [key: string]: Value }).map(([k, v]) =>
    v instanceof Raw && v.code === k ? k : `${key(k)}: ${inline(v)}`,
  );
  return parts.length ? `{ ${parts.join(', ')} }` : '{}';
}

/**
 * The value starting at `column` of a line indented by `indent`: inline when the line stays within
 * LINE_WIDTH (counting `tail`, what follows on the line), else broken up.
 */
export function render(value: Value, indent: string, column: number, tail = 0): string {
  const flat = inline(value);
  if (column + flat.length + tail <= LINE_WIDTH || !breakable(value)) return flat;
  const inner = `${indent}  `;
  if (value instanceof Call)
    return `${value.callee}(${renderArgs(value.args, indent, column + value.callee.length + 1, tail + 1)})`;
  if (value instanceof Chain) {
    const calls = value.calls.map((c) => `\n${inner}  .${render(c, `${inner}  `, inner.length + 3)}`);
    return `(${value.param}) =>\n${inner}${value.param}${calls.join('')}`;
  }
  if (Array.isArray(value)) {
    return `[\n${value.map((v) => `${inner}${render(v, inner, inner.length, 1)},`).join('\n')}\n${indent}]`;
  }
  const lines = entries(value as { readonly [key: string]: Value }).map(([k, v]) => {
    if (v instanceof Raw && v.code === k) return `${inner}${k},`; // shorthand, as Biome prefers
    const head = `${inner}${key(k)}: `;
    return `${head}${render(v, inner, head.length, 1)},`;
  });
  return `{\n${lines.join('\n')}\n${indent}}`;
}

function breakable(value: Value): boolean {
  return (
    value instanceof Call ||
    value instanceof Chain ||
    Array.isArray(value) ||
    (typeof value === 'object' && !(value instanceof Raw))
  );
}

/**
 * Call arguments: all on one line; else the last one "hugged" (`f(a, {` … `})`) when it is an object or
 * array; else one per line.
 */
export function renderArgs(args: readonly Value[], indent: string, column: number, tail = 1): string {
  const flat = args.map(inline).join(', ');
  if (column + flat.length + tail <= LINE_WIDTH) return flat;
  // A multi-line template literal starts right after the parenthesis (Biome keeps it there).
  if (args[0] instanceof Raw && args[0].code.includes('\n')) return flat;
  const last = args.at(-1);
  const head = args.slice(0, -1).map(inline).join(', ');
  const lastIsBlock =
    typeof last === 'object' && !(last instanceof Raw) && !(last instanceof Call) && !(last instanceof Chain);
  if (lastIsBlock && column + head.length + 3 <= LINE_WIDTH) {
    const prefix = head === '' ? '' : `${head}, `;
    return `${prefix}${render(last, indent, LINE_WIDTH + 1)}`;
  }
  const inner = `${indent}  `;
  return `\n${args.map((a) => `${inner}${render(a, inner, inner.length, 1)},`).join('\n')}\n${indent}`;
}
