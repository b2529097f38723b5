import { describe, expect, it } from 'vitest';
import { define } from '../dsl/graph.js';
import { stage } from '../dsl/stage.js';
import { planJson, resolvePlan } from './plan.js';

const base = stage('base').from('alpine:3.20').run('echo shared');
const api = stage('api').from(base).cmd(['api']);
const web = stage('web').from(base).cmd(['web']);
const test = stage('test').from(base).run('true');
const definition = define({
  targets: {
    api: { stage: api, tags: ['r.example/api:1'], args: { VERSION: '1' }, labels: { team: 'a' } },
    web: {
      stage: web,
      tags: ['r.example/web:1'],
      platforms: ['linux/amd64'],
      output: 'type=oci,dest=out/web',
    },
    test,
  },
  groups: { default: ['api', 'web'], all: ['default', 'test'] },
});

describe('resolvePlan', () => {
  it('gives define({ platforms }) to each target without its own', () => {
    const both = ['linux/amd64', 'linux/arm64'];
    const plan = resolvePlan(define({ ...definition, platforms: both }));
    expect(plan.target.api?.platforms).toEqual(both);
    expect(plan.target.web?.platforms).toEqual(['linux/amd64']);
  });

  it("chooses each target's caches: bake's own, else the target's, else define()'s; --set last", () => {
    const shared = 'type=registry,ref=r.example/cache:shared';
    const own = 'type=registry,ref=r.example/cache:api';
    const caching = define({
      ...definition,
      targets: { ...definition.targets, api: { stage: api, cacheFrom: [own], cacheTo: [`${own},mode=max`] } },
      cacheFrom: [shared],
    });
    const plan = resolvePlan(caching);
    expect(plan.target.api).toMatchObject({ 'cache-from': [own], 'cache-to': [`${own},mode=max`] });
    expect(plan.target.web?.['cache-from']).toEqual([shared]);
    expect(plan.target.web && 'cache-to' in plan.target.web).toBe(false); // none: left out, as bake prints
    const flags = resolvePlan(caching, { cacheFrom: ['type=local,src=ci'], cacheTo: ['type=local,dest=ci'] });
    for (const name of ['api', 'web'])
      expect(flags.target[name]).toMatchObject({
        'cache-from': ['type=local,src=ci'],
        'cache-to': ['type=local,dest=ci'],
      });
    const set = resolvePlan(caching, {
      set: ['web.cache-to=type=local,dest=a', 'web.cache-to=type=local,dest=b', 'api.cache-from='],
    });
    expect(set.target.web?.['cache-to']).toEqual(['type=local,dest=a', 'type=local,dest=b']);
    expect(set.target.api && 'cache-from' in set.target.api).toBe(false);
    expect(() =>
      define({ targets: { api: { stage: api, cacheTo: 'type=local,dest=x' as unknown as string[] } } }),
    ).toThrow(/targets\.api\.cacheTo must be a list of strings/);
  });

  it('builds the default group when no target is named, each target with its settings', () => {
    const plan = resolvePlan(definition);
    expect(plan.group).toEqual({ default: { targets: ['api', 'web'] } });
    expect(plan.target).toEqual({
      api: {
        tags: ['r.example/api:1'],
        platforms: [],
        args: { VERSION: '1' },
        labels: { team: 'a' },
        output: [],
      },
      web: {
        tags: ['r.example/web:1'],
        platforms: ['linux/amd64'],
        args: {},
        labels: {},
        output: ['type=oci,dest=out/web'],
      },
    });
  });

  it('expands nested groups once each, and builds every target without a default group', () => {
    expect(Object.keys(resolvePlan(definition, { targets: ['all', 'api'] }).target)).toEqual([
      'api',
      'web',
      'test',
    ]);
    const plain = define({ targets: { api, web } });
    expect(Object.keys(resolvePlan(plain).target)).toEqual(['api', 'web']);
    expect(Object.keys(resolvePlan(define({ target: api })).target)).toEqual(['api']);
  });

  it('applies --set overrides: lists replaced then added to, maps merged, * for every target', () => {
    const plan = resolvePlan(definition, {
      set: [
        'api.tags=r.example/api:2',
        'api.tags=r.example/api:latest',
        '*.platforms=linux/amd64,linux/arm64',
        'web.args.VERSION=2',
        'api.labels.team=b',
        'api.output=type=oci-archive,dest=out/api.tar',
        'test.tags=ignored:1', // a target that was not chosen: nothing to change
      ],
    });
    expect(plan.target.api).toMatchObject({
      tags: ['r.example/api:2', 'r.example/api:latest'],
      platforms: ['linux/amd64', 'linux/arm64'],
      labels: { team: 'b' },
      output: ['type=oci-archive,dest=out/api.tar'],
    });
    expect(plan.target.web).toMatchObject({
      args: { VERSION: '2' },
      platforms: ['linux/amd64', 'linux/arm64'],
    });
  });

  it('push adds a registry output to every target, and refuses one without tags', () => {
    expect(resolvePlan(definition, { push: true }).target.api?.output).toEqual(['type=registry']);
    expect(() => resolvePlan(definition, { targets: ['test'], push: true })).toThrowError(
      /target "test" is pushed but has no tags/,
    );
    const named = resolvePlan(definition, {
      targets: ['test'],
      set: ['test.output=type=registry,name=r.example/t:1'],
    });
    expect(named.target.test?.output).toEqual(['type=registry,name=r.example/t:1']);
  });

  it.each([
    [{ targets: ['apii'] }, /no target or group named "apii"/],
    [{ set: ['api-tags=x'] }, /--set api-tags=x: expected TARGET\.KEY=VALUE/],
    [{ set: ['api.tag=x'] }, /--set api\.tag=x: no key "tag"/],
    [{ set: ['nope.tags=x'] }, /--set nope\.tags=x: no target named "nope"/],
    [{ set: ['web.tags=r.example/api:1'] }, /targets "api" and "web" both have the tag r\.example\/api:1/],
    [{ set: ['api.output=type=zip'] }, /^target "api": .*type=zip/],
    [{ set: ['api.platforms=linux/'] }, /^target "api": .*linux\//],
  ])('refuses bad input in one line: %j', (options, message) => {
    expect(() => resolvePlan(definition, options)).toThrowError(message);
  });

  it('prints stable JSON: sorted keys, the same text for the same plan', () => {
    const text = planJson(resolvePlan(definition));
    expect(text).toBe(planJson(resolvePlan(definition)));
    expect(Object.keys(JSON.parse(text))).toEqual(['group', 'target']);
    expect(Object.keys(JSON.parse(text).target.api)).toEqual([
      'args',
      'labels',
      'output',
      'platforms',
      'tags',
    ]);
  });
});
