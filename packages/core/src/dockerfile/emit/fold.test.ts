import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { BuildGraph } from '../../ir/types.js';
import { FOLD_WIDTH, foldScript, joinContinuations, topLevelAnds } from './fold.js';
import { emitDockerfile } from './index.js';

function emitRun(script: string): string[] {
  const graph: BuildGraph = {
    version: 1,
    args: [],
    context: { dir: '.' },
    namedContexts: {},
    stages: [
      {
        name: 'app',
        base: { kind: 'scratch' },
        instructions: [{ kind: 'run', command: { form: 'shell', script } }],
      },
    ],
  };
  const lines = emitDockerfile(graph).dockerfile.trimEnd().split('\n');
  return lines.slice(lines.findIndex((line) => line.startsWith('RUN ')));
}

describe('topLevelAnds', () => {
  test.each([
    ['a && b', [2]],
    ['a&&b && c', [5]],
    ['echo "x && y" && z', [14]],
    ["echo 'x && y' && z", [14]],
    ['(a && b) && c', [9]],
    ['echo $(a && b) && c', [15]],
    ['echo "$(a && "b && c")" && d', [24]],
    ['echo `a && b` && c', [14]],
    ['echo \\&& b && c', [11]],
    ['a && b # c && d', [2]],
    ['a\t&& b', []],
  ])('%j', (script, expected) => expect(topLevelAnds(script)).toEqual(expected));
});

describe('foldScript', () => {
  const script =
    'apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*';

  test('breaks before each top-level && and keeps the space before the backslash', () => {
    expect(foldScript(script)).toEqual([
      'apt-get update \\',
      '&& apt-get install -y --no-install-recommends ca-certificates curl \\',
      '&& rm -rf /var/lib/apt/lists/*',
    ]);
  });

  test('is lossless', () => expect(joinContinuations(foldScript(script))).toBe(script));

  test('a long script through emitDockerfile joins back to the same script', () => {
    const lines = emitRun(script);
    expect(lines.length).toBe(3);
    expect(joinContinuations(lines)).toBe(`RUN ${script}`);
  });

  test('short scripts stay on one line', () => {
    expect(emitRun('a && b')).toEqual(['RUN a && b']);
  });
});

describe('joinContinuations (BuildKit rules)', () => {
  test('removes the escape and trailing blanks, keeps the next line untrimmed', () => {
    expect(joinContinuations(['RUN a \\  ', '  b'])).toBe('RUN a   b');
  });
  test('skips comment and empty lines inside a continuation', () => {
    expect(joinContinuations(['RUN a \\', '# note', '', 'b'])).toBe('RUN a b');
  });
  test('an escaped escape does not continue', () => {
    expect(joinContinuations(['RUN a \\\\', 'b'])).toBe('RUN a \\\\');
  });
});

// Property: whatever the script, the emitted RUN either joins back byte-identically or is a heredoc whose
// body is the script.
const fragment = fc.constantFrom(
  'echo',
  ' ',
  '  ',
  '\t',
  ' && ',
  '&&',
  ' || ',
  ';',
  '"',
  "'",
  '\\',
  '$HOME',
  '$(',
  ')',
  '`',
  '#',
  'x',
  'apt-get install -y curl',
  'é',
  '\n',
  '<<',
  '[',
  ']',
  '--',
);

describe('emitted RUN scripts are lossless (property)', () => {
  test('random scripts', () => {
    fc.assert(
      fc.property(fc.array(fragment, { minLength: 1, maxLength: 40 }), (parts) => {
        const script = parts.join('');
        if (script.trim() === '' && !script.includes('\n')) return; // empty scripts: heredoc, checked below
        const lines = emitRun(script);
        const heredoc = /^RUN <<(EOF\d*)$/.exec(lines[0] ?? '');
        if (heredoc) {
          const body = lines.slice(1, -1).join('\n');
          expect(lines.at(-1)).toBe(heredoc[1]);
          expect(`${body}\n`).toBe(script.endsWith('\n') ? script : `${script}\n`);
        } else {
          const joined = joinContinuations(lines);
          expect([`RUN ${script}`, `RUN -- ${script}`]).toContain(joined);
          if (lines.length > 1) expect(joined.length).toBeGreaterThan(FOLD_WIDTH);
          for (const line of lines.slice(1)) expect(line.startsWith('&&')).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
