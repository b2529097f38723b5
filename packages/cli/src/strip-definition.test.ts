import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { runInThisContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EXPORTS_PARAMETER, STRIPPED_HEADER, stripDefinition } from './strip-definition.js';

/** Runs stripped code the way load-definition.ts does, with `modules` as what each specifier imports. */
async function run(code: string, modules: Record<string, unknown>): Promise<Record<string, unknown>> {
  const wrapped = runInThisContext(
    `(async function (exports, require, module, __filename, __dirname, jitiImport, jitiESMResolve, ${EXPORTS_PARAMETER}) { ${code}\n});`,
    { lineOffset: -1 },
  ) as (...args: unknown[]) => Promise<void>;
  const module = { exports: {} as Record<string, unknown> };
  const jitiImport = async (id: string) => modules[id];
  await wrapped(
    module.exports,
    undefined,
    module,
    '/x/build.ts',
    '/x',
    jitiImport,
    undefined,
    module.exports,
  );
  return module.exports;
}

const columnOf = (text: string, line: number, needle: string) =>
  (text.split('\n')[line] ?? '').indexOf(needle);

describe('stripDefinition', () => {
  it('keeps every line and column of the code after imports, types and export keywords', async () => {
    const source = [
      "import { type Stage, stage, context as ctx } from '@wharf/core';",
      "import type { Definition } from '@wharf/core';",
      'import {',
      '  define,',
      "} from '@wharf/core/dsl'; const early: number = 1;",
      'const base: string = "scratch" as string;',
      'export const port: number = 70_000;',
      "export default define({ target: stage('app').from(base).expose(port) satisfies Stage, context: ctx('.') });",
      '',
    ].join('\n');
    const code = await stripDefinition(source);
    expect(code).toBeDefined();
    const [header, ...body] = (code as string).split('\n');
    expect(header).toMatch(new RegExp(`^${STRIPPED_HEADER.replace(/[()*]/g, '\\$&')} const `));
    const stripped = body.join('\n');
    expect(body.length).toBe(source.split('\n').length + 1); // the named exports' assignments
    for (const [line, needle] of [
      [4, 'const early'],
      [5, '"scratch"'],
      [6, 'const port'],
      [6, '70_000'],
      [7, 'define('],
      [7, "stage('app')"],
      [7, '.expose(port)'],
      [7, "ctx('.')"],
    ] as const) {
      expect(columnOf(stripped, line, needle), needle).toBe(columnOf(source, line, needle));
    }
    const calls: unknown[] = [];
    const stage = (name: string) => {
      const self = {
        from: (b: string) => {
          calls.push(['from', b]);
          return self;
        },
        expose: (p: number) => {
          calls.push(['expose', p]);
          return self;
        },
        name,
      };
      return self;
    };
    const exports = await run(code as string, {
      '@wharf/core': { stage, context: (dir: string) => `context ${dir}` },
      '@wharf/core/dsl': { define: (value: unknown) => ({ defined: value }) },
    });
    expect(exports.port).toBe(70_000);
    expect(exports.default).toMatchObject({ defined: { target: { name: 'app' }, context: 'context .' } });
    expect(calls).toEqual([
      ['from', 'scratch'],
      ['expose', 70_000],
    ]);
  });

  it('binds default, namespace and named imports as the module system does', async () => {
    const code = await stripDefinition(
      [
        "import path, * as all from 'node:path';",
        "import fs, { readFileSync as read } from 'node:fs';",
        "import {} from 'node:os';",
        "import 'node:util';",
        'export default [path, all, fs, read];',
      ].join('\n'),
    );
    const imported: string[] = [];
    const modules = {
      'node:path': { default: 'path-default', join: 1 },
      'node:fs': { default: 'fs-default', readFileSync: 'read' },
      'node:os': {},
      'node:util': {},
    };
    const exports = await run(
      code as string,
      new Proxy(modules, {
        get: (target, id: string) => {
          imported.push(id);
          return target[id as keyof typeof target];
        },
      }),
    );
    expect(exports.default).toEqual(['path-default', modules['node:path'], 'fs-default', 'read']);
    expect(imported).toEqual(['node:path', 'node:fs', 'node:os', 'node:util']);
  });

  it('runs the imports first, as the module system hoists them, and keeps line 1 as typed', async () => {
    const source = [
      "const early = typeof stage; import { stage } from '@wharf/core'; export default [early, stage('x')];",
      "import { join } from 'node:path';",
    ].join('\n');
    const code = (await stripDefinition(source)) as string;
    const [, first] = code.split('\n');
    expect(first?.indexOf("stage('x')")).toBe(source.indexOf("stage('x')"));
    const exports = await run(code, {
      '@wharf/core': { stage: (name: string) => `stage ${name}` },
      'node:path': { join: () => '' },
    });
    expect(exports.default).toEqual(['function', 'stage x']);
  });

  it('leaves amaro unloaded (its WebAssembly memory is garbage once the source is stripped)', async () => {
    expect(
      await stripDefinition("import { stage } from '@wharf/core';\nexport default stage('a');"),
    ).toBeDefined();
    const require = createRequire(import.meta.url);
    const amaro = dirname(require.resolve('amaro'));
    expect(Object.keys(require.cache).filter((file) => file.startsWith(amaro))).toEqual([]);
  });

  it('reads a long comment banner before the imports in linear time', async () => {
    const banner = `${'/'.repeat(200)}\n// api image\n${'/'.repeat(200)}\n`;
    const started = performance.now();
    const code = await stripDefinition(
      `${banner.repeat(50)}'use strict';\nimport { stage } from '@wharf/core';\nexport default stage('app');`,
    );
    expect(code).toContain('await jitiImport("@wharf/core")');
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it.each([
    ['an enum', "import { stage } from '@wharf/core';\nenum Port { Web = 80 }\nexport default stage('a');"],
    ['a namespace', 'namespace N { export const x = 1; }\nexport default N;'],
    ['a parameter property', 'class A { constructor(private x: number) {} }\nexport default A;'],
    ['an export list', 'const a = 1;\nexport { a as default };'],
    ['a re-export', "export * from '@wharf/core';\nexport default 1;"],
    ['import.meta', 'export default import.meta.url;'],
    ['a dynamic import', "export default await import('node:os');"],
    ['a default function declaration', 'export default function build() {}'],
    ['a default class declaration', 'export default class Build {}'],
    ['a default declaration after a comment', 'export default /* main */ function app() {}'],
    ['a default declaration on the next line', 'export default\nclass App {}'],
    ['an import with attributes', "import data from './x.json' with { type: 'json' };\nexport default data;"],
    ['a quoted import name', "import { 'a-b' as ab } from 'x';\nexport default ab;"],
    ['the wrapper parameter in use', `const ${EXPORTS_PARAMETER} = 1;\nexport default ${EXPORTS_PARAMETER};`],
    ['CommonJS', 'module.exports = { default: 1 };'],
    ['a syntax error', "import { stage } from '@wharf/core';\nexport default stage('a'"],
  ])('leaves %s to jiti', async (_what, source) => {
    expect(await stripDefinition(source)).toBeUndefined();
  });
});
