// @wharf/core as a program outside the workspace sees it: every entry in its package.json `exports` is
// loaded from the built bundle (node, default conditions) and must export the same names as its source
// barrel, with one copy of each module behind all of them (one WharfError class, whichever subpath a
// value came from).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const testDir = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(
  readFileSync(new URL('../../packages/core/package.json', import.meta.url), 'utf8'),
) as { exports: Record<string, { 'wharf:source': string }> };
const specifiers = Object.keys(pkg.exports).map((key) => `@wharf/core${key.slice(1)}`);

/** Runs an ES module script with plain `node` in test/, where @wharf/core resolves to its dist/. */
function node(script: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: testDir,
    encoding: 'utf8',
  });
}

describe('@wharf/core from dist', () => {
  it('every export path loads from the bundle and exports what its source barrel does', async () => {
    const built = JSON.parse(
      node(`
        const out = {};
        for (const s of ${JSON.stringify(specifiers)}) {
          out[s] = { url: import.meta.resolve(s), names: Object.keys(await import(s)).sort() };
        }
        console.log(JSON.stringify(out));
      `),
    ) as Record<string, { url: string; names: string[] }>;
    for (const [key, target] of Object.entries(pkg.exports)) {
      const specifier = `@wharf/core${key.slice(1)}`;
      const source = await import(
        new URL(`../../packages/core/${target['wharf:source']}`, import.meta.url).href
      );
      expect(built[specifier]?.url, specifier).toMatch(/\/packages\/core\/dist\/bundle\/.*\.js$/);
      expect(built[specifier]?.names, specifier).toEqual(Object.keys(source).sort());
    }
  });

  it('one copy of each module behind every export path', () => {
    const same = node(`
      const root = await import('@wharf/core');
      const registry = await import('@wharf/core/registry');
      const testing = await import('@wharf/core/testing');
      const engine = await import('@wharf/core/engine');
      const error = new registry.RegistryError('REGISTRY_DENIED', 'denied');
      const image = await testing.randomImage(1);
      console.log(JSON.stringify([
        error instanceof root.WharfError,
        root.isWharfError(new testing.ValidationError('an image', ['bad'])),
        typeof engine.buildImage,
        typeof (await image.digest()),
      ]));
    `);
    expect(JSON.parse(same)).toEqual([true, true, 'function', 'string']);
  });
});
