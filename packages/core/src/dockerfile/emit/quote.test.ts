// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile `${…}` expansions are the test data
/**
 * Round trips through small ports of the BuildKit readers each encoder targets (parser word splitting,
 * extractBuilderFlags, Go csv, the shell lexer's quote/escape removal). The lexer port does not expand: it
 * gives back the Word (`$NAME` kept, literal `$` as `\$`), so "emit then read" must equal the Word.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseWord } from '../../ir/expand.js';
import { flagWord, jsonArray, jsonElement, mountFlag, shellWord, Unrepresentable } from './quote.js';

/** The Word in canonical spelling: literal `$` as `\$`, expansions verbatim. */
const canonical = (word: string): string =>
  parseWord(word)
    .map((part) => (part.kind === 'text' ? part.text.replaceAll('$', '\\$') : part.text))
    .join('');

/** shell/lex.go processStopOn + processDoubleQuote/SingleQuote, with expansions kept as written. */
function unlex(input: string): string {
  let out = '';
  const literal = (ch: string) => {
    out += ch === '$' ? '\\$' : ch;
  };
  const dollar = (at: number): number => {
    const [part] = parseWord(input.slice(at));
    if (part?.kind === 'expansion') {
      out += part.text;
      return at + part.text.length;
    }
    literal('$');
    return at + 1;
  };
  let i = 0;
  while (i < input.length) {
    const ch = input[i] as string;
    if (ch === "'") {
      const close = input.indexOf("'", i + 1);
      if (close < 0) throw new Error('unterminated single quote');
      for (const c of input.slice(i + 1, close)) literal(c);
      i = close + 1;
    } else if (ch === '"') {
      i++;
      for (;;) {
        const c = input[i];
        if (c === undefined) throw new Error('unterminated double quote');
        if (c === '"') break;
        if (c === '$') i = dollar(i);
        else if (c === '\\' && /["$\\]/.test(input[i + 1] ?? '')) {
          literal(input[i + 1] as string);
          i += 2;
        } else {
          literal(c);
          i++;
        }
      }
      i++;
    } else if (ch === '$') i = dollar(i);
    else if (ch === '\\') {
      if (i + 1 < input.length) literal(input[i + 1] as string);
      i += 2;
    } else {
      literal(ch);
      i++;
    }
  }
  return out;
}

/** parser/line_parsers.go parseWords (escape `\`), quotes kept. */
function parseWords(rest: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i] as string;
    if (quote !== '') {
      if (ch === quote) quote = '';
      else if (ch === '\\' && quote !== "'") {
        word += ch;
        i++;
        word += rest[i] ?? '';
        continue;
      }
      word += ch;
      continue;
    }
    if (/\s/u.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === '"' || ch === "'") quote = ch;
    if (ch === '\\') {
      word += ch;
      i++;
      word += rest[i] ?? '';
      continue;
    }
    word += ch;
  }
  if (inWord) words.push(word);
  return words;
}

/** parser/split_command.go extractBuilderFlags for one flag word: quotes removed, `\` escapes. */
function unflag(flag: string): string {
  let out = '';
  let quote = '';
  for (let i = 0; i < flag.length; i++) {
    const ch = flag[i] as string;
    if (quote === '' && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = '';
    else if (ch === '\\') out += flag[++i] ?? '';
    else {
      expect(quote !== '' || !/\s/.test(ch)).toBe(true);
      out += ch;
    }
  }
  return out;
}

/** Go encoding/csv, one record. */
function csv(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const ch = line[i];
        if (ch === undefined) throw new Error('unterminated csv quote');
        if (ch === '"' && line[i + 1] === '"') {
          field += '"';
          i += 2;
        } else if (ch === '"') {
          i++;
          break;
        } else {
          field += ch;
          i++;
        }
      }
    } else {
      while (i < line.length && line[i] !== ',') {
        if (line[i] === '"') throw new Error('bare quote in csv field');
        field += line[i];
        i++;
      }
    }
    fields.push(field);
    if (line[i] !== ',') return fields;
    i++;
  }
}

// Words built from the characters that matter, plus expansions and `\$`.
const wordArb = fc
  .array(
    fc.constantFrom(
      'a',
      'Z',
      '/',
      ' ',
      '\t',
      '"',
      "'",
      '\\',
      '\\$',
      '$',
      '$HOME',
      '${A}',
      '${B:-x y}',
      '=',
      ',',
      '#',
      '-',
      'é',
      '😀',
      '\u00a0',
      '`',
      '[',
      '<<',
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

/** The Word may legitimately be unrepresentable in a position; anything else must round-trip. */
function attempt(run: () => void): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof Unrepresentable)) throw error;
  }
}

describe('shellWord', () => {
  test.each([
    ['plain', 'plain'],
    ['two words', '"two words"'],
    ['', '""'],
    ["it's", '"it\'s"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['C:\\dir', '"C:\\\\dir"'],
    ['\\$5', '\\$5'],
    ['$HOME/x', '$HOME/x'],
    ['${A:-b c}', '"${A:-b c}"'],
    ['\\$A and $B', '"\\$A and $B"'],
    ['50$', '50\\$'],
    ['#x', '#x'],
  ])('%j → %s', (word, expected) => expect(shellWord(word, 'w', { allowSpace: true })).toBe(expected));

  test('rejects whitespace where BuildKit splits at whitespace', () => {
    expect(() => shellWord('a b', 'w', { allowSpace: false })).toThrow(Unrepresentable);
  });
  test('rejects newlines', () => {
    expect(() => shellWord('a\nb', 'w', { allowSpace: true })).toThrow(/newline/);
  });

  test('ENV/LABEL pairs read back as the same key and Word (property)', () => {
    fc.assert(
      fc.property(wordArb, wordArb, (key, value) => {
        if (key === '' || key.includes('=')) return;
        attempt(() => {
          const text = `${shellWord(key, 'k', { allowSpace: true })}=${shellWord(value, 'v', { allowSpace: true })}`;
          const words = parseWords(text);
          expect(words.length).toBe(1);
          const [rawKey, rawValue] = [
            (words[0] as string).slice(0, (words[0] as string).indexOf('=')),
            (words[0] as string).slice((words[0] as string).indexOf('=') + 1),
          ];
          expect(unlex(rawKey)).toBe(canonical(key));
          expect(unlex(rawValue)).toBe(canonical(value));
        });
      }),
      { numRuns: 1000 },
    );
  });

  test('WORKDIR/USER (whole rest is one word) read back as the Word (property)', () => {
    fc.assert(
      fc.property(wordArb, (word) => {
        attempt(() => expect(unlex(shellWord(word, 'w', { allowSpace: true }))).toBe(canonical(word)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('jsonElement / jsonArray', () => {
  test('JSON-form paths read back as the Word (property)', () => {
    fc.assert(
      fc.property(wordArb, (word) => {
        attempt(() => expect(unlex(JSON.parse(jsonElement(word, 'w')) as string)).toBe(canonical(word)));
      }),
      { numRuns: 1000 },
    );
  });

  test('exec form is a JSON array of the literal strings', () => {
    const argv = ['sh', '-c', 'echo "$HOME" \\ \n\t', 'ünï ♥'];
    const text = jsonArray(argv, 'argv');
    expect(text.startsWith('[')).toBe(true);
    expect(JSON.parse(text)).toEqual(argv);
    expect(text).toContain('ünï ♥');
  });

  test('lone surrogates are rejected', () => {
    expect(() => jsonArray(['\ud800'], 'argv')).toThrow(/surrogate/);
  });
});

describe('flagWord', () => {
  test.each([
    ['app:app', '--chown=app:app'],
    ['$UID:$GID', '--chown=$UID:$GID'],
    ['a b', "--chown='a b'"],
    ['\\$x', "--chown='\\\\$x'"],
    ["it's", String.raw`--chown="it\\'s"`],
  ])('%j → %s', (word, expected) => expect(flagWord('chown', word, 'chown')).toBe(expected));

  test('rejects non-ASCII (BuildKit reads flags byte by byte)', () => {
    expect(() => flagWord('chown', 'jöe', 'chown')).toThrow(/non-ASCII/);
  });

  test('flag values read back as the Word (property)', () => {
    fc.assert(
      fc.property(wordArb, (word) => {
        attempt(() => {
          const flag = flagWord('from', word, 'from');
          expect(unlex(unflag(flag).slice('--from='.length))).toBe(canonical(word));
        });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('mountFlag', () => {
  test('CSV-quotes values with , " or =', () => {
    const flag = mountFlag(
      [
        ['type', { literal: 'cache' }],
        ['target', { word: '/a,b' }],
        ['id', { word: 'x=y' }],
        ['ro', { bare: true }],
      ],
      'mount',
    );
    expect(flag).toBe('--mount=\'type=cache,"target=/a,b","id=x=y",ro\'');
    expect(csv(unflag(flag).slice('--mount='.length))).toEqual(['type=cache', 'target=/a,b', 'id=x=y', 'ro']);
  });

  test('mount values read back as the Word after flag, csv and lexer (property)', () => {
    fc.assert(
      fc.property(wordArb, wordArb, (target, id) => {
        attempt(() => {
          const flag = mountFlag(
            [
              ['type', { literal: 'cache' }],
              ['target', { word: target }],
              ['id', { word: id }],
            ],
            'mount',
          );
          const fields = csv(unflag(flag).slice('--mount='.length));
          const values = Object.fromEntries(
            fields.map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]),
          );
          expect(values.type).toBe('cache');
          expect(unlex(values.target ?? '')).toBe(canonical(target));
          expect(unlex(values.id ?? '')).toBe(canonical(id));
        });
      }),
      { numRuns: 1000 },
    );
  });
});
