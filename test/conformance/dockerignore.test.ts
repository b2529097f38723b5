import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WharfError } from '../../packages/core/src/errors.js';
import {
  createIgnoreMatcher,
  goClean,
  type IgnoreMatcher,
  type ParentMatchInfo,
  parseDockerignore,
} from '../../packages/core/src/layer/ignore.js';
import { peerSuite } from './peer-suites.js';

// Peer suite: moby/patternmatcher v0.6.1 cases, read in place.
const peerDir = `${peerSuite('dockerignore')}/`;

interface PeerCase {
  readonly patterns: string[];
  readonly path: string;
  readonly excluded: boolean;
  readonly error?: string;
  readonly api: string;
  readonly source: string;
}
interface ReadAllCase {
  readonly name: string;
  readonly content: string;
  readonly patterns: string[];
}

const cases = JSON.parse(readFileSync(`${peerDir}dockerignore-cases.json`, 'utf8')) as PeerCase[];
const readAllCases = JSON.parse(
  readFileSync(`${peerDir}ignorefile-readall-cases.json`, 'utf8'),
) as ReadAllCase[];

/** What BuildKit's walk computes: parent results threaded from the top-level ancestor down. */
const matchLikeWalker = (matcher: IgnoreMatcher, file: string): boolean =>
  goClean(file)
    .split('/')
    .reduce<{ excluded: boolean; info?: ParentMatchInfo }>(
      (parent, _, i, parts) => matcher.matchWithParent(parts.slice(0, i + 1).join('/'), parent.info),
      { excluded: false },
    ).excluded;

describe('peer suite: moby/patternmatcher cases', () => {
  it('has all 138 cases', () => {
    expect(cases).toHaveLength(138);
    expect(cases.filter((c) => c.error !== undefined)).toHaveLength(18);
  });

  it.each(cases.map((c, i) => [i, c] as const))('case %i: %j', (_i, c) => {
    if (c.error !== undefined) {
      expect(() => createIgnoreMatcher(c.patterns).matches(c.path)).toThrow(WharfError);
      // upstream: repeated calls keep failing, they never start to succeed
      let matcher: IgnoreMatcher | undefined;
      try {
        matcher = createIgnoreMatcher(c.patterns);
      } catch {}
      if (matcher) {
        expect(() => matcher.matches(c.path)).toThrow(WharfError);
        expect(() => matcher.matches(c.path)).toThrow(WharfError);
      }
      return;
    }
    const matcher = createIgnoreMatcher(c.patterns);
    expect(matcher.matches(c.path)).toBe(c.excluded);
    if (c.api === 'MatchesOrParentMatches' && goClean(c.path) !== '.' && !goClean(c.path).startsWith('/')) {
      // upstream also runs these through MatchesUsingParentResults, with and without parent context
      expect(matcher.matchWithParent(goClean(c.path)).excluded).toBe(c.excluded);
      expect(matchLikeWalker(matcher, c.path)).toBe(c.excluded);
    }
  });

  it.each(readAllCases)('ReadAll: $name', (c) => {
    expect(parseDockerignore(c.content)).toEqual(c.patterns);
  });

  it('rejects the bare "!" that ReadAll lets through', () => {
    const patterns = parseDockerignore(readAllCases[0]?.content ?? '');
    expect(() => createIgnoreMatcher(patterns)).toThrow(
      expect.objectContaining({ code: 'IGNORE_ILLEGAL_EXCLUSION' }),
    );
  });
});
