import { formatLocation, type Problem } from '@wharf/core/ir';

/** Prints validation warnings to stderr, one line each (with the hint indented below). */
export function printWarnings(warnings: readonly Problem[]): void {
  for (const w of warnings) {
    const where = w.location ? `${formatLocation(w.location)}: ` : '';
    process.stderr.write(`wharf: warning: ${where}${w.message}\n${w.hint ? `  hint: ${w.hint}\n` : ''}`);
  }
}
