// The public surface as a test: the root of @wharf/core stays a short, documented list (what a build.ts
// author and a build script need; the rest lives in subpath exports), every DSL method and preset has a
// JSDoc example, the shipped .d.ts has no internals, and every subpath in package.json has its barrel.
// Reads the sources through the TypeScript compiler, so it needs no build.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const MAX_ROOT_NAMES = 40;
const src = fileURLToPath(new URL('.', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, { 'wharf:source': string; types: string; default: string }>;
};

let program: ts.Program;
let checker: ts.TypeChecker;

beforeAll(() => {
  program = ts.createProgram([`${src}index.ts`], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    declaration: true,
    stripInternal: true,
    skipLibCheck: true,
    types: ['node'],
  });
  checker = program.getTypeChecker();
}, 120_000);

/** The root's exports, each resolved to what it names. */
function rootExports(): { name: string; symbol: ts.Symbol }[] {
  const file = program.getSourceFile(`${src}index.ts`);
  const module = file && checker.getSymbolAtLocation(file);
  if (!module) throw new Error('index.ts has no module symbol');
  return checker.getExportsOfModule(module).map((exported) => ({
    name: exported.getName(),
    symbol: exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported,
  }));
}

/** The JSDoc text and tags of a symbol's declarations (a function's overloads and its body included). */
function docs(symbol: ts.Symbol): { text: string; tags: string[] } {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  const tags = symbol.getJsDocTags(checker).map((tag) => tag.name);
  return { text, tags };
}

const isValue = (symbol: ts.Symbol) =>
  (symbol.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class | ts.SymbolFlags.Variable)) !== 0;

describe('the root of @wharf/core', () => {
  it(`exports at most ${MAX_ROOT_NAMES} names`, () => {
    const names = rootExports().map((e) => e.name);
    expect(names.length, names.join(', ')).toBeLessThanOrEqual(MAX_ROOT_NAMES);
  });

  it('documents every name; every function, class and constant has an @example', () => {
    const undocumented: string[] = [];
    for (const { name, symbol } of rootExports()) {
      const { text, tags } = docs(symbol);
      if (text === '') undocumented.push(`${name}: no JSDoc`);
      else if (isValue(symbol) && !tags.includes('example')) undocumented.push(`${name}: no @example`);
    }
    expect(undocumented).toEqual([]);
  });
});

describe('the DSL', () => {
  const exported = (name: string) => {
    const found = rootExports().find((e) => e.name === name);
    if (!found) throw new Error(`${name} is not exported`);
    return found.symbol;
  };

  it('every function and constant of @wharf/core/dsl has JSDoc with an @example', () => {
    const dsl = program.getSourceFile(`${src}dsl/index.ts`);
    const module = dsl && checker.getSymbolAtLocation(dsl);
    if (!module) throw new Error('dsl/index.ts has no module symbol');
    const missing = checker
      .getExportsOfModule(module)
      .map((exported) => [exported.getName(), checker.getAliasedSymbol(exported)] as const)
      .filter(([, symbol]) => isValue(symbol) && !docs(symbol).tags.includes('example'))
      .map(([name]) => name);
    expect(missing).toEqual([]);
  });

  it('every Stage method has JSDoc with an @example', () => {
    const stage = exported('Stage');
    const missing = checker
      .getPropertiesOfType(checker.getDeclaredTypeOfSymbol(stage))
      .filter((member) => !/^(__@|#)/.test(member.getName())) // the brand, private fields
      .filter((member) => !docs(member).tags.includes('internal'))
      .filter((member) => !docs(member).tags.includes('example'))
      .map((member) => member.getName());
    expect(missing).toEqual([]);
  });

  it('every mount function and cache preset has JSDoc with an @example', () => {
    const missing: string[] = [];
    for (const name of ['cache', 'bind', 'secret', 'ssh', 'tmpfs']) {
      if (!docs(exported(name)).tags.includes('example')) missing.push(name);
    }
    const presets = checker.getPropertiesOfType(checker.getTypeOfSymbol(exported('cache')));
    expect(presets.map((p) => p.getName()).sort()).toEqual(
      ['apt', 'bun', 'cargo', 'go', 'gradle', 'maven', 'npm', 'pip', 'pnpm', 'yarn'].sort(),
    );
    for (const preset of presets) {
      const { text, tags } = docs(preset);
      if (!tags.includes('example') || !/\//.test(text)) missing.push(`cache.${preset.getName()}`);
    }
    expect(missing).toEqual([]);
  });

  it('every option of the DSL methods is documented', () => {
    const dsl = program.getSourceFile(`${src}dsl/index.ts`);
    const module = dsl && checker.getSymbolAtLocation(dsl);
    if (!module) throw new Error('dsl/index.ts has no module symbol');
    const missing: string[] = [];
    for (const exportedSymbol of checker.getExportsOfModule(module)) {
      const name = exportedSymbol.getName();
      if (!name.endsWith('Options')) continue;
      const symbol = checker.getAliasedSymbol(exportedSymbol);
      for (const option of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
        if (docs(option).text === '') missing.push(`${name}.${option.getName()}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('the shipped .d.ts has no Stage constructor and no unwind()', () => {
    let dts = '';
    const stage = program.getSourceFile(`${src}dsl/stage.ts`);
    const result = program.emit(
      stage,
      (fileName, text) => {
        if (fileName.endsWith('stage.d.ts')) dts = text;
      },
      undefined,
      true,
    );
    expect(result.diagnostics).toEqual([]);
    expect(dts).toMatch(/export declare class Stage \{/);
    expect(dts).not.toMatch(/constructor\(|unwind\(/);
  });
});

describe('subpath exports', () => {
  it('every subpath has an index barrel in src/ and is built into dist/ and the bundle', () => {
    const problems: string[] = [];
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      const name = subpath === '.' ? 'index' : `${subpath.slice(2)}/index`;
      if (target['wharf:source'] !== `./src/${name}.ts`)
        problems.push(`${subpath}: source ${target['wharf:source']}`);
      if (target.types !== `./dist/${name}.d.ts`) problems.push(`${subpath}: types ${target.types}`);
      if (target.default !== `./dist/bundle/${name}.js`)
        problems.push(`${subpath}: default ${target.default}`);
      if (!existsSync(`${src}${name}.ts`)) problems.push(`${subpath}: no src/${name}.ts`);
    }
    expect(problems).toEqual([]);
    expect(Object.keys(pkg.exports).sort()).toEqual(
      [
        '.',
        './archive',
        './bake',
        './dockerfile',
        './dsl',
        './engine',
        './export',
        './image',
        './ir',
        './layout',
        './lint',
        './lock',
        './oci',
        './registry',
        './sbom',
        './sign',
        './testing',
      ].sort(),
    );
  });

  it('the README documents each subpath', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(pkg.exports)
      .filter((subpath) => subpath !== '.')
      .filter((subpath) => !readme.includes(`@wharf/core/${subpath.slice(2)}`));
    expect(missing).toEqual([]);
  });
});
