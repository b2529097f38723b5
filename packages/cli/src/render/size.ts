/**
 * The one size convention of the CLI's output: SI units (1 kB = 1000 B, 1 MB = 10⁶ B), as docker and
 * `build()`'s push statistics count, with the unit spelled `B`, `kB`, `MB`, `GB`, `TB`.
 */
const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

/** `999 B`, `1.5 kB`, `12 MB`, `3.4 GB`: one decimal below 10, none above. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  // 999.95 kB rounds to "1000 kB": say 1.0 MB instead.
  if (Number(value.toFixed(value < 10 ? 1 : 0)) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}
