// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the test inputs are shell words, not templates
import { describe, expect, it } from 'vitest';
import { processWord, processWords } from './shell-lexer.js';

// BuildKit's envVarTest and wordsTest tables are in the conformance project (test/conformance/shell-lexer.test.ts).
describe('processWord', () => {
  // issue 13 item 10: 2,000 levels overflowed the stack ("internal error: Maximum call stack size exceeded")
  it('bounds ${…} nesting at 100 levels and values at 1 MiB, with a clear error', () => {
    const nested = (n: number) => `${'${a:-'.repeat(n)}x${'}'.repeat(n)}`;
    expect(processWord(nested(100), []).value).toBe('x');
    for (const word of [nested(101), nested(2000)]) {
      expect(() => processWord(word, [])).toThrow(
        expect.objectContaining({
          code: 'DOCKERFILE_EXPAND',
          message: expect.stringMatching(
            /^failed to process "\$\{a:-.{40,60}": \$\{…\} expressions nested more than 100 deep$/,
          ),
          hint: expect.stringContaining('100 levels'),
        }),
      );
    }
    const big = 'x'.repeat(600 * 1024);
    expect(processWord('$A', [`A=${big}`]).value).toBe(big);
    expect(() => processWord('$A$A', [`A=${big}`])).toThrow(/more than 1048576 characters \(1 MiB\)/);
  });
  it('reports the variables it used and the unset ones', () => {
    const r = processWord('$A ${B:-x} ${C} "$A"', ['A=1', 'C=']);
    expect(r.value).toBe('1 x  1');
    expect(r.matched).toEqual(['A', 'C']);
    expect(r.unmatched).toEqual(['B']);
  });
  it('takes a lookup function', () => {
    expect(processWord('${X}-$Y', (n) => (n === 'X' ? 'x' : undefined)).value).toBe('x-');
  });
  it('lets a later list entry win', () => {
    expect(processWord('$A', ['A=1', 'A=2']).value).toBe('2');
  });
  it('wraps errors with the source word, Go-quoted', () => {
    expect(() => processWord('he${}', [])).toThrow(
      'failed to process "he${}": syntax error: bad substitution',
    );
    expect(() => processWord('${X:?must be set}', [])).toThrow('X: must be set');
    expect(() => processWord('${X?}', [])).toThrow('X: is not allowed to be unset');
    expect(() => processWord('${NULL:?}', ['NULL='])).toThrow('NULL: is not allowed to be empty');
  });
  it('supports the backtick escape character', () => {
    expect(processWord('a`$b` c`"d', [], { escapeToken: '`' }).value).toBe('a$b c"d');
    expect(processWord('"x`"y"', [], { escapeToken: '`' }).value).toBe('x"y');
  });
  it('supports ${V-w}, ${V+w} (unset only) as well as the : forms', () => {
    const env = ['E=', 'S=s'];
    expect(processWord('${E-d}|${E:-d}|${U-d}|${S-d}', env).value).toBe('|d|d|s');
    expect(processWord('${E+a}|${E:+a}|${U+a}|${S+a}', env).value).toBe('a|||a');
  });
  it('supports prefix, suffix and replacement patterns', () => {
    const env = ['P=/usr/local/bin/tool.tar.gz', 'V=aXbXc'];
    expect(processWord('${P#*/}', env).value).toBe('usr/local/bin/tool.tar.gz');
    expect(processWord('${P##*/}', env).value).toBe('tool.tar.gz');
    expect(processWord('${P%.*}', env).value).toBe('/usr/local/bin/tool.tar');
    expect(processWord('${P%%.*}', env).value).toBe('/usr/local/bin/tool');
    expect(processWord('${V/X/-}', env).value).toBe('a-bXc');
    expect(processWord('${V//X/-}', env).value).toBe('a-b-c');
    expect(processWord('${V//?/.}', env).value).toBe('.....');
    expect(processWord('${V/\\*/y}', ['V=a*b']).value).toBe('ayb');
    expect(() => processWord('${V#\\x}', env)).toThrow(
      "invalid pattern (\\x) in substitution: invalid escape '\\x'",
    );
    expect(() => processWord('${V/a', env)).toThrow("syntax error: missing '/' in ${}");
  });
  it('keeps quotes, escapes and unset variables when asked (as heredoc detection does)', () => {
    const opts = { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true };
    expect(processWords(`RUN "a b" 'c' \\d $X \${Y:-z}`, [], opts)).toEqual([
      'RUN',
      '"a b"',
      "'c'",
      '\\d',
      '$X',
      '${Y:-z}',
    ]);
    expect(processWords('cat <<  EOF > f', [])).toEqual(['cat', '<<  EOF', '>', 'f']);
  });
  it('treats quotes as plain characters with skipProcessQuotes', () => {
    expect(processWord(`echo '$A' "$A"`, ['A=1'], { skipProcessQuotes: true }).value).toBe(`echo '1' "1"`);
  });
});
