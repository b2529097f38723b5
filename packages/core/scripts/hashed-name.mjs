// One naming rule for the bundles run with V8's code cache (core's body, the CLI's program): the file
// name carries a hash of the code, because V8 checks a cache against the source's length only, so a
// cache must never outlive its code. Used by packages/core/scripts/bundle.mjs and packages/cli/scripts/bundle.mjs.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Renames `file` (and its source map) to `<name>.<hash of content>.cjs` after `edit`; returns the new base name. */
export function hashedName(file, edit = (code) => code) {
  const code = edit(readFileSync(file, 'utf8'));
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const name = basename(file).replace(/\.cjs$/, `.${hash}.cjs`);
  writeFileSync(
    join(dirname(file), name),
    code.replace(`//# sourceMappingURL=${basename(file)}.map`, `//# sourceMappingURL=${name}.map`),
  );
  renameSync(`${file}.map`, join(dirname(file), `${name}.map`));
  rmSync(file);
  return name;
}
