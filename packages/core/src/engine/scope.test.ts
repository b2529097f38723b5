import { describe, expect, it } from 'vitest';
import { BuildArgs, envLookup, GlobalScope, predefinedArgs, StageScope } from './scope.js';

const platform = { os: 'linux', architecture: 'amd64' };

describe('ARG scoping', () => {
  it('global ARGs: build args override defaults; defaults expand earlier globals; predefined platform args', () => {
    const args = new BuildArgs({ TAG: '3.20' });
    const global = new GlobalScope(
      [{ name: 'TAG', default: 'latest' }, { name: 'IMAGE', default: 'alpine:${TAG}' }, { name: 'UNSET' }],
      args,
      predefinedArgs(platform, platform),
    );
    expect(global.expand('$IMAGE-${TARGETARCH}')).toBe('alpine:3.20-amd64');
    expect(global.values.has('UNSET')).toBe(false);
  });

  it('stage ARGs: must be declared; take build arg, else global value, else default; the later of ARG/ENV wins', () => {
    const args = new BuildArgs({ B: 'from-cli', UNUSED: 'x' });
    const global = new GlobalScope(
      [{ name: 'G', default: 'global' }],
      args,
      predefinedArgs(platform, platform),
    );
    const stage = new StageScope(global);
    const noEnv = envLookup([]);
    expect(stage.lookup(noEnv)('G')).toBeUndefined();
    stage.declare({ name: 'G' }, noEnv);
    stage.declare({ name: 'B', default: 'default' }, noEnv);
    stage.declare({ name: 'C', default: '${G}-c' }, noEnv);
    stage.declare({ name: 'TARGETARCH' }, noEnv);
    // ARG C came after an ENV C: the ARG wins, in expansion and in RUN's environment.
    expect(stage.lookup(envLookup(['C=env']))('C')).toBe('global-c');
    expect(stage.runEnv(['C=env', 'X=1'])).toEqual([
      'G=global',
      'B=from-cli',
      'TARGETARCH=amd64',
      'C=global-c',
      'X=1',
    ]);
    stage.envSet(['C']); // ENV C=env after the ARG: the ENV wins again
    expect(stage.runEnv(['C=env'])).toEqual(['G=global', 'B=from-cli', 'TARGETARCH=amd64', 'C=env']);
    const lookup = stage.lookup(envLookup(['C=env']));
    expect([lookup('G'), lookup('B'), lookup('C'), lookup('TARGETARCH')]).toEqual([
      'global',
      'from-cli',
      'env',
      'amd64',
    ]);
    expect(stage.argEnv()).toEqual(['G=global', 'B=from-cli', 'C=global-c', 'TARGETARCH=amd64']);
    expect(args.unused()).toEqual(['UNUSED']);
  });
});
