/** Configuration (define({ lint }), .wharf-lint.json) and inline ignore comments. */
import { describe, expect, test } from 'vitest';
import { isWharfError } from '../errors.js';
import { lintDockerfile, parseLintConfig } from './index.js';

const text = 'FROM alpine:3.20\nRUN apk add curl\nRUN echo hi\n';
const rules = (configs: Parameters<typeof lintDockerfile>[1]) =>
  lintDockerfile(text, configs).map((f) => `${f.rule}:${f.severity}`);

describe('lint configuration', () => {
  test('rules can be turned off or given another severity; later configurations win', () => {
    const all = rules({});
    expect(all).toContain('DL3018:warning');
    expect(all).toContain('DL3059:info');
    const configured = rules({
      configs: [
        { config: { rules: { DL3018: 'off', DL3059: 'error', RunsAsRoot: false } }, where: 'build.ts' },
        {
          config: parseLintConfig('{ "rules": { "DL3059": "style", "dl3019": "on" } }', '.wharf-lint.json'),
          where: '.wharf-lint.json',
        },
      ],
    });
    expect(configured).not.toContain('DL3018:warning');
    expect(configured).toContain('DL3059:style');
    expect(configured).toContain('DL3019:info');
    expect(configured.some((r) => r.startsWith('RunsAsRoot'))).toBe(false);
  });

  test.each([
    ['{ "rules": { "DL9999": "off" } }', /\.wharf-lint\.json: unknown lint rule "DL9999"/],
    ['{ "rules": { "DL3008": "loud" } }', /rule DL3008 has setting "loud"/],
    ['{ "rule": {} }', /must be an object with one key, "rules"/],
    ['{ rules: ', /is not valid JSON/],
  ])('a bad .wharf-lint.json is one clear error: %s', (json, message) => {
    let error: unknown;
    try {
      lintDockerfile(text, {
        configs: [{ config: parseLintConfig(json, '.wharf-lint.json'), where: '.wharf-lint.json' }],
      });
    } catch (e) {
      error = e;
    }
    expect(isWharfError(error) && error.code).toBe('LINT_CONFIG');
    expect((error as Error).message).toMatch(message);
  });
});

describe('inline ignores', () => {
  test('# wharf-lint ignore= and # hadolint ignore= above an instruction silence those rules there only', () => {
    const dockerfile = [
      'FROM alpine:3.20',
      '# wharf-lint ignore=DL3018',
      'RUN apk add curl',
      '# install git',
      '# hadolint ignore=DL3019, DL3018',
      'RUN apk add git',
      'RUN apk add jq',
    ].join('\n');
    const found = lintDockerfile(dockerfile).filter((f) => f.rule === 'DL3018' || f.rule === 'DL3019');
    expect(found.map((f) => `${f.rule}@${f.line}`)).toEqual(['DL3019@3', 'DL3019@7', 'DL3018@7']);
  });

  test('# hadolint global ignore= silences a rule in the whole file', () => {
    const found = lintDockerfile('# hadolint global ignore=DL3018\nFROM alpine:3.20\nRUN apk add curl\n');
    expect(found.filter((f) => f.rule === 'DL3018')).toEqual([]);
  });
});
