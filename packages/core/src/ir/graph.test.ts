import { describe, expect, it } from 'vitest';
import { lowerDockerfile } from '../dockerfile/lower/index.js';
import { expandWord } from './expand.js';
import { pruneToTarget, resolveStageBases, stageNamePattern } from './graph.js';

const dockerfile = [
  'FROM busybox AS base-amd64',
  'RUN echo amd64 > /arch',
  'FROM busybox AS Base-ARM64',
  'RUN echo arm64 > /arch',
  'FROM base-${TARGETARCH}',
  'RUN cp /arch /chosen',
  'FROM base-${TARGETARCH}-${MISSING:?unset} AS broken',
  '',
].join('\n');

const platform = (arch: string) => (word: string) =>
  expandWord(word, (name) => (name === 'TARGETARCH' ? arch : undefined));

describe('resolveStageBases', () => {
  it('turns a FROM word that expands to a stage name (any case) into that stage, once the platform is known', () => {
    const graph = lowerDockerfile(dockerfile);
    expect(graph.stages.find((s) => s.name === 'stage-2')?.base).toEqual({
      kind: 'image',
      ref: 'base-${TARGETARCH}',
    });
    const arm = pruneToTarget(resolveStageBases(graph, [platform('arm64')]), 'stage-2');
    expect(arm.stages.map((s) => s.name)).toEqual(['base-arm64', 'stage-2']);
    expect(arm.stages.at(-1)?.base).toEqual({ kind: 'stage', stage: 'base-arm64' });
    const amd = pruneToTarget(resolveStageBases(graph, [platform('amd64')]), 'stage-2');
    expect(amd.stages.map((s) => s.name)).toEqual(['base-amd64', 'stage-2']);
  });

  it('leaves image references, and words that fail to expand, as they are', () => {
    const graph = lowerDockerfile(dockerfile);
    const riscv = resolveStageBases(graph, [platform('riscv64')]);
    expect(riscv.stages.find((s) => s.name === 'stage-2')?.base).toEqual({
      kind: 'image',
      ref: 'base-${TARGETARCH}',
    });
    expect(riscv.stages.find((s) => s.name === 'broken')?.base.kind).toBe('image');
    const plain = lowerDockerfile('FROM alpine:3.20\nRUN true\n');
    expect(resolveStageBases(plain, [platform('amd64')])).toBe(plain);
  });
});

describe('resolveStageBases with several target platforms', () => {
  it('resolves a word that names the same stage for all of them, and refuses one that does not', () => {
    const graph = lowerDockerfile(dockerfile);
    const same = resolveStageBases(graph, [platform('amd64'), platform('AMD64')]);
    expect(same.stages.find((s) => s.name === 'stage-2')?.base).toEqual({
      kind: 'stage',
      stage: 'base-amd64',
    });
    expect(() => resolveStageBases(graph, [platform('amd64'), platform('arm64')])).toThrow(
      /stage "stage-2": FROM base-\$\{TARGETARCH\} names stage "base-amd64" or stage "base-arm64" depending on the target platform/,
    );
  });
});

describe('stageNamePattern', () => {
  it.each([
    ['base-${TARGETARCH}', 'BASE-arm64', true],
    ['base-$TARGETARCH', 'base-amd64', true],
    ['build_${TARGETARCH}${TARGETVARIANT}', 'build_armv7', true],
    ['runtime-${A:-${B}}', 'runtime-x', true],
    ['base-${TARGETARCH}', 'other-amd64', false],
    ['lit\\$-${X}', 'lit$-y', true],
    ['a.b-${X}', 'aXb-y', false],
  ])('%s matches %s: %s', (word, name, expected) => {
    expect(stageNamePattern(word)?.test(name)).toBe(expected);
  });

  it('has no pattern for a word without variables or without literal text', () => {
    expect(stageNamePattern('alpine:3.20')).toBeUndefined();
    expect(stageNamePattern('${BASE}')).toBeUndefined();
    expect(stageNamePattern('$A$B')).toBeUndefined();
  });
});
