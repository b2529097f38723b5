import { describe, expect, it } from 'vitest';
import { WharfError } from '../errors.js';
import {
  compileToGoRegex,
  createIgnoreMatcher,
  goClean,
  type IgnoreMatcher,
  type ParentMatchInfo,
  parseDockerignore,
} from './ignore.js';

// moby/patternmatcher's cases are in the conformance project (test/conformance/dockerignore.test.ts).

/** What BuildKit's walk computes: parent results threaded from the top-level ancestor down. */
function matchLikeWalker(matcher: IgnoreMatcher, file: string): boolean {
  const parts = goClean(file).split('/');
  let info: ParentMatchInfo | undefined;
  let excluded = false;
  parts.forEach((_, i) => {
    const result = matcher.matchWithParent(parts.slice(0, i + 1).join('/'), info);
    info = result.info;
    excluded = result.excluded;
  });
  return excluded;
}

describe('parseDockerignore reading rules', () => {
  it('strips a BOM from the first line only', () => {
    expect(parseDockerignore('\uFEFFa\n\uFEFFb')).toEqual(['a', '\uFEFFb']);
    expect(parseDockerignore('\uFEFF# comment\nx')).toEqual(['x']);
  });

  it('treats only a # in the first column as a comment', () => {
    expect(parseDockerignore('# c\n  # not a comment\n#\nx#y')).toEqual(['# not a comment', 'x#y']);
  });

  it('trims Go whitespace and handles CRLF', () => {
    expect(parseDockerignore('  a  \r\n\tb\t\r\n\u0085c\u00a0\n\r\n   \n')).toEqual(['a', 'b', 'c']);
    // U+FEFF is not whitespace for Go, so a BOM that is not at the start stays
    expect(parseDockerignore('x\n\uFEFFy')).toEqual(['x', '\uFEFFy']);
  });

  it('cleans patterns and drops one leading slash, keeping "!"', () => {
    expect(parseDockerignore('/foo\n//bar//\n./a/./b/../c\n! /x/y/\n!  ../z\n/\n.\n**/\na/**/')).toEqual([
      'foo',
      'bar',
      'a/c',
      '!x/y',
      '!../z',
      '/',
      '.',
      '**',
      'a/**',
    ]);
  });

  it('keeps escapes and brackets as written', () => {
    expect(parseDockerignore('a\\*b\n[ab]c\n\\#x')).toEqual(['a\\*b', '[ab]c', '\\#x']);
  });

  it('handles empty input and a missing final newline', () => {
    expect(parseDockerignore('')).toEqual([]);
    expect(parseDockerignore('\n\n')).toEqual([]);
    expect(parseDockerignore('a\nb')).toEqual(['a', 'b']);
  });

  it('fails like bufio.Scanner on a line of 64 KiB or more', () => {
    expect(() => parseDockerignore(`a\n${'x'.repeat(65536)}\n`)).toThrow(
      expect.objectContaining({ code: 'IGNORE_LINE_TOO_LONG' }),
    );
    expect(parseDockerignore(`${'x'.repeat(65535)}\n`)).toHaveLength(1);
  });
});

describe('createIgnoreMatcher', () => {
  const excluded = (patterns: string[], p: string) => createIgnoreMatcher(patterns).matches(p);

  it('lets the last matching pattern win, with parent directories matching', () => {
    expect(excluded(['docs', '!docs/README.md'], 'docs/README.md')).toBe(false);
    expect(excluded(['docs', '!docs/README.md'], 'docs/other.md')).toBe(true);
    expect(excluded(['*.md', '!README.md', 'README.md'], 'README.md')).toBe(true);
    expect(excluded(['node_modules'], 'node_modules/a/b/c.js')).toBe(true);
    expect(excluded(['!keep', 'keep'], 'keep')).toBe(true);
  });

  it('never excludes the context root', () => {
    expect(excluded(['**'], '.')).toBe(false);
    expect(excluded(['*'], './')).toBe(false);
  });

  it('does not re-clean after "!" (upstream quirk: "!/x" never matches a relative path)', () => {
    expect(excluded(['x', '!/x'], 'x')).toBe(true);
    expect(createIgnoreMatcher(['!/x']).patterns).toEqual([
      expect.objectContaining({ pattern: '/x', exclusion: true }),
    ]);
  });

  it('treats regex metacharacters literally and * / ? within one segment', () => {
    expect(excluded(['a+b(c)|{d}$.e'], 'a+b(c)|{d}$.e')).toBe(true);
    expect(excluded(['a.b'], 'axb')).toBe(false);
    expect(excluded(['*.js'], 'src/a.js')).toBe(false);
    expect(excluded(['*/*.js'], 'src/a.js')).toBe(true);
    expect(excluded(['**/*.js'], 'src/deep/a.js')).toBe(true);
  });

  it('follows the leading-** suffix quirk ("**file" matches "xfile")', () => {
    expect(excluded(['**file'], 'dir/xfile')).toBe(true);
    expect(excluded(['**/file'], 'dir/xfile')).toBe(false);
  });

  it('interprets the generated Go regex exactly, including RE2 escapes', () => {
    // A backslash before a letter reaches Go's regexp as-is: \d is a digit class there.
    expect(excluded(['a\\d'], 'a1')).toBe(true);
    expect(excluded(['a\\d'], 'ad')).toBe(false);
    expect(excluded(['[[:alpha:]]x'], 'bx')).toBe(true);
    expect(excluded(['[[:alpha:]]x'], '1x')).toBe(false);
    // once a pattern is a regex, ^ is an anchor: this one can never match
    expect(excluded(['a^b?'], 'a^bc')).toBe(false);
    // while a pattern without wildcards is compared as text
    expect(excluded(['a^b'], 'a^b')).toBe(true);
    expect(excluded(['a^b/**'], 'a^b/c')).toBe(true);
    expect(compileToGoRegex('**/*.txt')).toEqual({ type: 'regexp', source: '^(.*/)?[^/]*\\.txt$' });
    expect(compileToGoRegex('abc/**')).toEqual({ type: 'prefix', source: '^abc/' });
    expect(compileToGoRegex('**/foo')).toEqual({ type: 'suffix', source: '^(.*/)?foo' });
  });

  it('rejects malformed patterns up front, or on first use when only the Go regexp parser objects', () => {
    expect(() => createIgnoreMatcher(['ok', 'a[b'])).toThrow(
      expect.objectContaining({ code: 'IGNORE_BAD_PATTERN' }),
    );
    const lazy = createIgnoreMatcher(['[z-a]x', 'b']);
    expect(() => lazy.matches('x')).toThrow(expect.objectContaining({ code: 'IGNORE_BAD_PATTERN' }));
    expect(() => createIgnoreMatcher(['a\\y']).matches('ay')).toThrow(WharfError);
  });

  it('names the origin of the pattern in errors', () => {
    expect(() => createIgnoreMatcher(['['], { origin: 'COPY --exclude' })).toThrow(/^COPY --exclude: /);
  });
});

describe('matchWithParent (BuildKit walk) and mayReinclude', () => {
  it('agrees with matches() for ordinary pattern sets', () => {
    const patterns = ['**/*.log', '!important/**', 'build', '!build/keep.txt', 'tmp/*'];
    const m = createIgnoreMatcher(patterns);
    for (const p of [
      'a.log',
      'x/a.log',
      'important/a.log',
      'build',
      'build/keep.txt',
      'build/x',
      'tmp/a',
      'tmp',
    ]) {
      expect(matchLikeWalker(m, p), p).toBe(m.matches(p));
    }
  });

  it('pins the one known divergence: upstream skips an inclusion already satisfied at the parent', () => {
    const m = createIgnoreMatcher(['a', '!a/b', 'a']);
    expect(m.matches('a/b')).toBe(true);
    expect(matchLikeWalker(m, 'a/b')).toBe(false); // what BuildKit actually sends
  });

  it('allows skipping an excluded directory only when no exception can reach inside', () => {
    expect(createIgnoreMatcher(['build']).mayReinclude('build')).toBe(false);
    const prefix = createIgnoreMatcher(['build', 'dist', '!build/keep/a.txt']);
    expect(prefix.mayReinclude('build')).toBe(true);
    expect(prefix.mayReinclude('build/keep')).toBe(true);
    expect(prefix.mayReinclude('build/other')).toBe(false);
    expect(prefix.mayReinclude('dist')).toBe(false);
    // a trailing /** or /* on the exception still counts as a prefix
    expect(createIgnoreMatcher(['*', '!src/**']).mayReinclude('src')).toBe(true);
    expect(createIgnoreMatcher(['*', '!src/**']).mayReinclude('lib')).toBe(false);
    // any wildcard exception forces descent everywhere
    const wild = createIgnoreMatcher(['build', 'dist', '!**/*.keep']);
    expect(wild.mayReinclude('dist')).toBe(true);
  });
});
