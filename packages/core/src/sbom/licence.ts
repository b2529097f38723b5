/**
 * Which declared licences are SPDX license expressions. Databases hold free text too ("GPL-2+",
 * "BSD-like"); those are kept as text, never passed off as an expression.
 */
import { createRequire } from 'node:module';

// Only the library's SPDX id list (its `./SPDX` export: one JSON file), required on the first licence
// checked: the whole library loads ajv and its serializers, 0.2–0.7 s of module loading on the main
// thread while the push runs, for a lookup in one Set.
let spdx: typeof import('@cyclonedx/cyclonedx-library/SPDX') | undefined;
function spdxIds(): typeof import('@cyclonedx/cyclonedx-library/SPDX') {
  spdx ??= createRequire(import.meta.url)(
    '@cyclonedx/cyclonedx-library/SPDX',
  ) as typeof import('@cyclonedx/cyclonedx-library/SPDX');
  return spdx;
}

const OPERATORS = new Set(['AND', 'OR', 'WITH']);

/** True when `text` is an SPDX expression of known ids (or `LicenseRef-…`), `AND`/`OR`/`WITH` and parentheses. */
export function isSpdxExpression(text: string): boolean {
  const tokens = text.replace(/[()]/g, ' $& ').trim().split(/\s+/);
  let depth = 0;
  let expectOperand = true;
  for (const token of tokens) {
    if (token === '(') {
      if (!expectOperand) return false;
      depth++;
    } else if (token === ')') {
      if (expectOperand || --depth < 0) return false;
    } else if (OPERATORS.has(token)) {
      if (expectOperand) return false;
      expectOperand = true;
    } else {
      if (!expectOperand) return false;
      const id = token.endsWith('+') ? token.slice(0, -1) : token;
      if (
        !spdxIds().isSupportedSpdxId(id) &&
        !/^(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/.test(id)
      ) {
        return false;
      }
      expectOperand = false;
    }
  }
  return depth === 0 && !expectOperand && tokens.length > 0;
}
