/**
 * Which declared licences are SPDX license expressions. Databases hold free text too ("GPL-2+",
 * "BSD-like"); those are kept as text, never passed off as an expression.
 */
import { SPDX } from '@cyclonedx/cyclonedx-library';

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
        !SPDX.isSupportedSpdxId(id) &&
        !/^(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/.test(id)
      ) {
        return false;
      }
      expectOperand = false;
    }
  }
  return depth === 0 && !expectOperand && tokens.length > 0;
}
