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

  it('stage ARGs: must be declared; take build arg, else global value, else default; ENV wins', () => {
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
