/**
 * Inline ignores, read from the source text by line: `# wharf-lint ignore=DL3008,DL3015` (or hadolint's
 * `# hadolint ignore=…`) in the comment lines right above an instruction silences those rules for it;
 * `# wharf-lint global ignore=…` anywhere silences them for the file. In a build.ts the same comments are
 * written with `//` above the call (`wharf convert` carries them over).
 */

const PRAGMA = /^\s*(?:#|\/\/)\s*(?:wharf-lint|hadolint)\s+(global\s+)?ignore\s*=\s*([A-Za-z0-9_,\s-]+)/;

export interface IgnoreIndex {
  /** True when `rule` is ignored for the instruction starting at `line` (1-based). */
  ignored(rule: string, line: number): boolean;
}

export function ignoreIndex(text: string): IgnoreIndex {
  const lines = text.split(/\r?\n/);
  const global = new Set<string>();
  for (const line of lines) {
    const m = PRAGMA.exec(line);
    if (m?.[1]) for (const id of ids(m[2] ?? '')) global.add(id);
  }
  return {
    ignored(rule, line) {
      if (global.has(rule)) return true;
      for (let n = line - 1; n >= 1; n--) {
        const above = lines[n - 1] ?? '';
        if (!/^\s*(#|\/\/)/.test(above)) break;
        const m = PRAGMA.exec(above);
        if (m && !m[1] && ids(m[2] ?? '').includes(rule)) return true;
      }
      return false;
    },
  };
}

function ids(list: string): string[] {
  return list
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}
