import { describe, expect, it } from 'vitest';
import { expandWord, expandWordWithUse } from './expand.js';
import { MAX_EXPANDED_LENGTH, MAX_EXPANSION_DEPTH } from './limits.js';

const env: Record<string, string> = {
  A: 'alpha',
  EMPTY: '',
  PATHISH: '/usr/local/bin:/usr/bin',
  FILE: 'archive.tar.gz',
};
const lookup = (name: string) => env[name];

describe('expandWord', () => {
  it.each([
    ['$A', 'alpha'],
    ['${A}', 'alpha'],
    ['x${A}y', 'xalphay'],
    ['$A-$B.', 'alpha-.'],
    ['\\$A', '$A'],
    ['cost \\$5', 'cost $5'],
    ['$', '$'],
    ['a$ b', 'a$ b'],
    ['$1', '$1'],
    ['C:\\path', 'C:\\path'],
    ['\\\\$A', '\\alpha'],
    ['\\\\\\$A', '\\$A'],
    ['a\\\\\\\\${A}', 'a\\\\alpha'],
    ['C:\\\\path', 'C:\\\\path'],
    ['"$A"', '"alpha"'],
    ['${B:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${B-def}', 'def'],
    ['${A:+set}', 'set'],
    ['${EMPTY:+set}', ''],
    ['${EMPTY+set}', 'set'],
    ['${B+set}', ''],
    ['${B:-${A}}', 'alpha'],
    ['${B:-a\\}b}', 'a}b'],
    ['${FILE#*.}', 'tar.gz'],
    ['${FILE##*.}', 'gz'],
    ['${FILE%.*}', 'archive.tar'],
    ['${FILE%%.*}', 'archive'],
    ['${PATHISH/:/ }', '/usr/local/bin /usr/bin'],
    ['${PATHISH//\\//-}', '-usr-local-bin:-usr-bin'],
    ['${A?}', 'alpha'],
  ])('%s → %s', (word, expected) => {
    expect(expandWord(word, lookup)).toBe(expected);
  });

  it('reports the variables a word used', () => {
    expect(expandWordWithUse('$A ${B:-$C}', lookup).used).toEqual(['A', 'B', 'C']);
  });

  it('fails clearly on required variables and bad substitutions', () => {
    expect(() => expandWord('${B:?set B first}', lookup)).toThrowError(/B: set B first/);
    expect(() => expandWord('${B?}', lookup)).toThrowError(/B: is not allowed to be unset/);
    expect(() => expandWord('${A', lookup)).toThrowError(/missing '}'/);
    expect(() => expandWord('${}', lookup)).toThrowError(/bad substitution/);
  });
});

describe('expansion limits (issue 13 item 10, issue 12 item 7)', () => {
  /** ENV v0=xxxxxxxx then vN=$v(N-1)$v(N-1): each value doubles. */
  function doubling(steps: number): Map<string, string> {
    const values = new Map<string, string>([['v0', 'x'.repeat(1000)]]);
    for (let n = 1; n <= steps; n++)
      values.set(
        `v${n}`,
        expandWord(`$v${n - 1}$v${n - 1}`, (k) => values.get(k)),
      );
    return values;
  }

  it('stops a doubling chain at 1 MiB, naming the variable and the limit', () => {
    const started = performance.now();
    let error: unknown;
    try {
      doubling(40);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'IR_EXPANSION_LIMIT' });
    expect((error as Error).message).toMatch(
      /^\$v10 makes \$v10\$v10 longer than 1048576 characters \(1 MiB\)/,
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(doubling(10).get('v10')).toHaveLength(1000 * 2 ** 10); // 1,024,000: under the limit
  });

  it('limits ${…} nesting to 100 levels instead of overflowing the stack', () => {
    const nested = (depth: number) => `${'${a:-'.repeat(depth)}x${'}'.repeat(depth)}`;
    expect(expandWord(nested(MAX_EXPANSION_DEPTH), () => undefined)).toBe('x');
    for (const depth of [MAX_EXPANSION_DEPTH + 1, 2000, 100_000]) {
      expect(() => expandWord(nested(depth), () => undefined)).toThrowError(
        expect.objectContaining({
          code: 'IR_EXPANSION_LIMIT',
          message: expect.stringMatching(/nested more than 100 deep/),
        }),
      );
    }
  });

  it('limits what ${VAR//p/r} builds as it goes', () => {
    const big = 'a'.repeat(MAX_EXPANDED_LENGTH);
    const lookup = (n: string) => (n === 'BIG' ? big : 'r'.repeat(1000));
    const started = performance.now();
    expect(() => expandWord('${BIG//a/$R}', lookup)).toThrowError(
      expect.objectContaining({ code: 'IR_EXPANSION_LIMIT' }),
    );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(expandWord('${BIG//a/}', lookup)).toBe('');
  });
});
