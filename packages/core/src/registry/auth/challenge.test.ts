import { describe, expect, it } from 'vitest';
import { mergeScopes, parseChallenges, pickChallenge } from './challenge.js';

describe('parseChallenges', () => {
  it('parses a distribution Bearer challenge', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/node:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/node:pull',
        },
      },
    ]);
  });

  it('keeps commas inside quoted values and unescapes \\"', () => {
    const [c] = parseChallenges(
      'Bearer realm="https://a/token",scope="repository:a/b:pull,push",error="insufficient_scope",x="say \\"hi\\""',
    );
    expect(c?.params.scope).toBe('repository:a/b:pull,push');
    expect(c?.params.error).toBe('insufficient_scope');
    expect(c?.params.x).toBe('say "hi"');
  });

  it('splits several challenges in one header and across headers; Bearer wins over Basic', () => {
    const list = parseChallenges([
      'Basic realm="reg"',
      'Newauth realm="x", type=1, Bearer realm="https://t",service=s',
    ]);
    expect(list.map((c) => c.scheme)).toEqual(['basic', 'newauth', 'bearer']);
    expect(list[2]?.params).toEqual({ realm: 'https://t', service: 's' });
    expect(pickChallenge(list)?.scheme).toBe('bearer');
    expect(pickChallenge(parseChallenges('Basic realm="Registry Realm"'))?.scheme).toBe('basic');
    expect(pickChallenge(parseChallenges('Negotiate'))).toBeUndefined();
  });

  it('tolerates spaces and case in scheme and parameter names', () => {
    expect(parseChallenges('  BEARER  Realm = "r" ,  Service=s ')).toEqual([
      { scheme: 'bearer', params: { realm: 'r', service: 's' } },
    ]);
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('mergeScopes', () => {
  it('merges actions per resource and sorts, so equal scope sets make equal cache keys', () => {
    expect(mergeScopes(['repository:a/b:push', 'repository:a/b:pull', 'repository:c:pull'])).toEqual([
      'repository:a/b:pull,push',
      'repository:c:pull',
    ]);
    expect(mergeScopes(['repository:c:pull repository:a/b:pull,push'])).toEqual(
      mergeScopes(['repository:a/b:push,pull', 'repository:c:pull']),
    );
  });
});
