import { describe, expect, it } from 'vitest';
import { expandWord, expandWordWithUse } from './expand.js';

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
