// A build.ts is stripped of its types in place (the columns the user typed stay), or loaded through
// jiti when it needs more; a warm start runs wharf's kept copy (no transform): same result and source
// locations as the first run, the definition still evaluated on every run, and no copy for a build.ts
// that imports more than @wharf/core and Node's modules.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'wharf-definition-copy-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function project(name: string, files: Record<string, string>): { dir: string; cache: string } {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return { dir, cache: join(dir, 'xdg') };
}

const copies = (cache: string) => {
  try {
    return readdirSync(join(cache, 'wharf', 'definitions')).filter((f) => f.endsWith('.js'));
  } catch {
    return [];
  }
};

/** `wharf dockerfile DIR/build.ts` run cold (keeping one copy, checked) and then warm. */
async function coldAndWarm(dir: string, cache: string) {
  const run = () => wharfAsync(['dockerfile', join(dir, 'build.ts')], { env: { XDG_CACHE_HOME: cache } });
  const cold = await run();
  expect(copies(cache)).toHaveLength(1);
  return [
    ['cold', cold],
    ['warm', await run()],
  ] as const;
}

describe('kept transpiled build definitions', () => {
  it('keeps a copy on the first run and runs it on the next, evaluating the definition again', async () => {
    const { dir, cache } = project('plain', {
      'build.ts': [
        "import { join } from 'node:path';",
        "import { stage } from '@wharf/core';",
        'const greeting: string = process.env.GREETING ?? "none";',
        "export default stage('app').from('scratch').env({ GREETING: greeting, WHERE: join('a', 'b') }).cmd(['/x']);",
        '',
      ].join('\n'),
    });
    const run = (greeting: string) =>
      wharfAsync(['dockerfile', join(dir, 'build.ts')], {
        env: { XDG_CACHE_HOME: cache, GREETING: greeting },
      });
    const cold = await run('one');
    expect(cold.code).toBe(0);
    expect(cold.stdout).toMatch(/^ENV GREETING=one WHERE=a\/b$/m);
    const kept = copies(cache);
    expect(kept).toHaveLength(1);
    const warm = await run('two');
    expect(warm.code).toBe(0);
    expect(warm.stdout).toBe(cold.stdout.replace('GREETING=one', 'GREETING=two'));
    // The warm run ran the copy: an edit to it shows.
    const file = join(cache, 'wharf', 'definitions', kept[0] as string);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"none"', '"from the copy"'));
    expect(
      (
        await wharfAsync(['dockerfile', join(dir, 'build.ts')], {
          env: { XDG_CACHE_HOME: cache, GREETING: undefined },
        })
      ).stdout,
    ).toMatch(/^ENV GREETING="from the copy" WHERE=a\/b$/m);
  });

  it('reports the same source locations from the copy as on the first run', async () => {
    const { cache } = project('locations', {});
    const lint = () => wharfAsync(['lint', 'examples/hello/build.ts'], { env: { XDG_CACHE_HOME: cache } });
    const cold = await lint();
    // `  .expose(8080)`: the column of `expose`.
    expect(cold.stdout).toMatch(/examples\/hello\/build\.ts:16:4: warning ServiceWithoutHealthcheck/);
    expect(copies(cache)).toHaveLength(1);
    const warm = await lint();
    expect(warm.stdout).toBe(cold.stdout);
    expect(warm.code).toBe(cold.code);
  });

  it('points at the column the user typed, after types and imports spread over lines', async () => {
    const source = [
      'import {',
      "  stage, type Stage } from '@wharf/core';",
      "const port: number = 70000; export default (stage('app') satisfies Stage).from('scratch').expose(port);",
      '',
    ].join('\n');
    const { dir, cache } = project('columns', { 'build.ts': source });
    const column = (source.split('\n')[2] as string).indexOf('expose') + 1;
    for (const [run, result] of await coldAndWarm(dir, cache)) {
      expect(result.code, run).toBe(1);
      expect(result.stderr, run).toContain(
        `build.ts:3:${column}: stage "app", EXPOSE (instruction 1): invalid port "70000"`,
      );
    }
  });

  it('loads through jiti what type stripping cannot take (an enum), and keeps its copy', async () => {
    const { dir, cache } = project('enum', {
      'build.ts': [
        "import { stage } from '@wharf/core';",
        'enum Port { Web = 8080 }',
        "export default stage('app').from('scratch').expose(Port.Web).cmd(['/x']);",
        '',
      ].join('\n'),
    });
    for (const [run, result] of await coldAndWarm(dir, cache)) {
      expect(result.code, run).toBe(0);
      expect(result.stdout, run).toMatch(/^EXPOSE 8080$/m);
    }
    const [kept] = copies(cache);
    expect(readFileSync(join(cache, 'wharf', 'definitions', kept as string), 'utf8')).toMatch(
      /\bexports\.default =/,
    );
  });

  it('makes a kept copy of another strip format again instead of running it', async () => {
    const { dir, cache } = project('other-format', {
      'build.ts':
        "import { stage } from '@wharf/core';\nexport default stage('app').from('scratch').cmd(['/x']);\n",
    });
    const [[, cold]] = await coldAndWarm(dir, cache);
    expect(cold.code).toBe(0);
    const file = join(cache, 'wharf', 'definitions', copies(cache)[0] as string);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/hoisted \(\d+\)/, 'hoisted (0)'));
    const again = await wharfAsync(['dockerfile', join(dir, 'build.ts')], { env: { XDG_CACHE_HOME: cache } });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(cold.stdout);
    expect(readFileSync(file, 'utf8')).not.toMatch(/hoisted \(0\)/); // made again
  });

  it('runs a kept jiti copy that declares $w, the stripped code export parameter', async () => {
    const { dir, cache } = project('dollar-w', {
      'build.ts': [
        "import { stage } from '@wharf/core';",
        "const $w = stage('app').from('scratch');",
        "export default $w.cmd(['/x']);",
        '',
      ].join('\n'),
    });
    for (const [run, result] of await coldAndWarm(dir, cache)) {
      expect(result.code, `${run}: ${result.stderr}`).toBe(0);
      expect(result.stdout, run).toMatch(/^CMD \["\/x"\]$/m);
    }
  });

  // The same file forced to jiti by one line amaro's strip-only mode refuses (an enum).
  it.each([
    ['examples/hello', ['']],
    ['examples/node-app', ['']],
    ['examples/monorepo', ['api', 'worker', 'web']],
    ['test/fixtures/everything', ['everything', 'shell-forms']],
  ])('gives %s the Dockerfile jiti gives, for each target', async (folder, targets) => {
    const dir = join(scratch, 'same-as-jiti', folder);
    cpSync(join(repoRoot, folder), dir, { recursive: true });
    writeFileSync(
      join(dir, 'jiti.ts'),
      `${readFileSync(join(dir, 'build.ts'), 'utf8')}\nenum ForceJiti {}\n`,
    );
    for (const target of targets) {
      const dockerfile = async (file: string, cache: string) => {
        const result = await wharfAsync(['dockerfile', file, ...(target ? ['--target', target] : [])], {
          cwd: dir,
          env: { XDG_CACHE_HOME: join(dir, cache) },
        });
        expect(result.code, `${file} ${target}: ${result.stderr}`).toBe(0);
        return result.stdout;
      };
      const stripped = await dockerfile('build.ts', 'xdg-stripped');
      expect(stripped).toMatch(/^FROM /m);
      expect(await dockerfile('jiti.ts', 'xdg-jiti')).toBe(stripped);
    }
  });

  it("gives the copy @wharf/core's entries as the module system does: namespaces, no default", async () => {
    const { dir, cache } = project('entries', {
      'build.ts': [
        "import core, * as all from '@wharf/core';",
        "import { parseReference } from '@wharf/core/oci';",
        "import { stage } from '@wharf/core';",
        "let assign = 'allowed';",
        'try {',
        '  (all as Record<string, unknown>).stage = 1;',
        '} catch (error) {',
        '  assign = (error as Error).name;',
        '}',
        'const shape = [typeof core, Object.prototype.toString.call(all), Object.keys(all).join(","), assign];',
        "export default stage('app').from('scratch').env({ SHAPE: shape.join(' '), REF: parseReference('alpine').toString() }).cmd(['/x']);",
        '',
      ].join('\n'),
    });
    const run = () => wharfAsync(['dockerfile', join(dir, 'build.ts')], { env: { XDG_CACHE_HOME: cache } });
    const cold = await run();
    expect(cold.code).toBe(0);
    expect(cold.stdout).toMatch(
      /^ENV SHAPE="undefined \[object Module\] \S*define\S* TypeError" REF=docker\.io\/library\/alpine:latest$/m,
    );
    expect(copies(cache)).toHaveLength(1);
    const warm = await run();
    expect(warm.stdout).toBe(cold.stdout);
  });

  it('keeps no copy of a build.ts importing a local module, which still loads every time', async () => {
    const { dir, cache } = project('local-import', {
      'helper.ts': "export const base: string = 'scratch';\n",
      'build.ts': [
        "import { stage } from '@wharf/core';",
        "import { base } from './helper.ts';",
        "export default stage('app').from(base).cmd(['/x']);",
        '',
      ].join('\n'),
    });
    for (let i = 0; i < 2; i++) {
      const result = await wharfAsync(['dockerfile', join(dir, 'build.ts')], {
        env: { XDG_CACHE_HOME: cache },
      });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^FROM scratch AS app$/m);
    }
    expect(copies(cache)).toHaveLength(0);
  });
});
