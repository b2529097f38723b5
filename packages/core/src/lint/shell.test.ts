/** The lint shell reader: simple commands, subshells, pipes and output redirections. */
import { describe, expect, test } from 'vitest';
import { simpleCommands } from './shell.js';

const words = (script: string) =>
  simpleCommands(script).commands.map((c) => `${c.subshell ? '(sub) ' : ''}${c.words.join(' ')}`);

describe('simpleCommands', () => {
  test.each([
    ['cd /src && make || echo failed; ls', ['cd /src', 'make', 'echo failed', 'ls']],
    ['(cd /src && make) && echo "a && b" \'c; d\'', ['(sub) cd /src', '(sub) make', 'echo a && b c; d']],
    ['echo $(cd /tmp && pwd) `cd / && ls`', ['echo', '(sub) cd /tmp', '(sub) pwd', '(sub) cd /', '(sub) ls']],
    [
      'if cd /x; then DEBIAN_FRONTEND=noninteractive apt-get install -y a; fi',
      ['cd /x', 'apt-get install -y a'],
    ],
    [
      'apt-get update \\\n  && apt-get install curl # not: rm -rf /',
      ['apt-get update', 'apt-get install curl'],
    ],
  ])('%s', (script, expected) => {
    expect(words(script)).toEqual(expected);
  });

  test('pipes: a lone | outside quotes, not || or a quoted one', () => {
    expect(simpleCommands('curl -fsSL x | sh').pipes).toBe(true);
    expect(simpleCommands('a || b; echo "x | y" \'|\'').pipes).toBe(false);
    expect(simpleCommands('make 2>&1 >/dev/null').pipes).toBe(false);
  });

  test('output redirections are recorded, not taken as arguments', () => {
    const [cat] = simpleCommands('cat /run/secrets/t > /root/.npmrc 2>/dev/null').commands;
    expect(cat?.words).toEqual(['cat', '/run/secrets/t']);
    expect(cat?.writes).toEqual(['/root/.npmrc', '/dev/null']);
    expect(simpleCommands('echo "$TOKEN">>~/.netrc').commands[0]?.writes).toEqual(['~/.netrc']);
  });
});
