// The checks a user's project puts a generated build.ts through: `tsc` strict with no unused locals, and
// Biome's recommended rules (noTemplateCurlyInString included). One definition for the codegen test
// (packages/core/src/dockerfile/codegen/codegen.test.ts) and the corpus run (scripts/dockerfile-corpus.mjs).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));

/**
 * Writes `tsconfig.json` and `biome.json` into `dir` for the files matching `include` (a glob relative to
 * `dir`), with `@wharf/core` resolved to `core` (its index.ts or built index.d.ts). Returns what runs them:
 * `node <tsc> -p <tsconfig>` and `<biome> lint <dir>`.
 */
export function writeGeneratedChecks(dir, { core, include }) {
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(repo, 'tsconfig.base.json'),
      compilerOptions: {
        noEmit: true,
        declaration: false,
        sourceMap: false,
        strict: true,
        noUnusedLocals: true,
        paths: { '@wharf/core': [core] },
      },
      include: [include],
    }),
  );
  writeFileSync(
    join(dir, 'biome.json'),
    JSON.stringify({
      root: true,
      files: { includes: [include] },
      linter: { rules: { preset: 'recommended' } },
      formatter: { enabled: false },
      assist: { enabled: false },
    }),
  );
  return {
    tsc: createRequire(join(repo, 'package.json')).resolve('typescript/bin/tsc'),
    tsconfig,
    biome: join(repo, 'node_modules/.bin/biome'),
  };
}
