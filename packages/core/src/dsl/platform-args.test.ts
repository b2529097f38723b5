import { describe, expect, it } from 'vitest';
import { emitDockerfile } from '../dockerfile/emit/index.js';
import { lowerDockerfile } from '../dockerfile/lower/index.js';
import { isWharfError } from '../errors.js';
import { lintGraph } from '../lint/index.js';
import { define, definitionPlatforms, toGraph } from './graph.js';
import { buildPlatform, platformArgs } from './platform-args.js';
import { type Stage, stage } from './stage.js';

const { TARGETOS, TARGETARCH, BUILDPLATFORM } = platformArgs;

describe('platform ARG values', () => {
  it('write the Dockerfile a user would: FROM --platform=$BUILDPLATFORM, ARG NAME, ${NAME} in strings', () => {
    const build = stage('build')
      .from('golang:1.22', { platform: buildPlatform })
      .arg(TARGETOS, TARGETARCH)
      .run(`GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -o /out/app . # on ${BUILDPLATFORM}`);
    const app = stage('app').from(`base-${TARGETARCH}`).copy(build, '/out/app', '/app');
    const graph = toGraph(
      define({ target: app, targets: { 'base-amd64': stage('base-amd64').from('scratch') } }),
    );
    const { dockerfile } = emitDockerfile(graph);
    expect(dockerfile).toContain('FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n');
    expect(dockerfile).toContain('ARG TARGETOS TARGETARCH\n');
    expect(dockerfile).toContain(
      'RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -o /out/app . # on ${BUILDPLATFORM}\n',
    );
    expect(dockerfile).toContain('FROM base-${TARGETARCH} AS app\n');
    // The same meaning as the Dockerfile written by hand: it lowers to the same graph.
    const written = lowerDockerfile(
      [
        'FROM scratch AS base-amd64',
        'FROM --platform=$BUILDPLATFORM golang:1.22 AS build',
        'ARG TARGETOS TARGETARCH',
        'RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -o /out/app . # on ${BUILDPLATFORM}',
        'FROM base-${TARGETARCH} AS app',
        'COPY --from=build /out/app /app',
        '',
      ].join('\n'),
    );
    const shape = (g: typeof graph) =>
      JSON.stringify(g.stages.map((s) => [s.name, s.base, s.platform, s.instructions.map((i) => i.kind)]));
    expect(
      shape(toGraph(define({ target: app, targets: { 'base-amd64': stage('base-amd64').from('scratch') } }))),
    ).toBe(shape(written));
  });

  it('a platform string still works; anything else is a usage error', () => {
    expect(toGraph(stage('a').from('alpine', { platform: 'linux/arm64' })).stages[0]?.platform).toBe(
      'linux/arm64',
    );
    expect(() => stage('a').from('alpine', { platform: 42 as unknown as string })).toThrowError(
      /from\(\) option "platform" must be a platform/,
    );
    expect(() =>
      stage('a')
        .from('alpine')
        .arg(TARGETARCH, 'x' as unknown as typeof TARGETOS),
    ).toThrowError(/arg\(\) takes either platform ARG values/);
  });
});

describe('platform ARG scoping (BuildKit: automatic in FROM, declared with ARG inside a stage)', () => {
  const undefinedVars = (app: Stage) =>
    lintGraph(toGraph(app))
      .filter((f) => f.rule === 'UndefinedVar')
      .map((f) => f.message);

  it('wharf lint reports a use inside a stage before .arg() declares it, and not after', () => {
    const used = stage('app').from(`alpine-${TARGETARCH}`).copy('a', `/out-${TARGETARCH}`);
    expect(undefinedVars(used)).toEqual(['$TARGETARCH is not defined here']);
    expect(
      undefinedVars(
        stage('app').from(`alpine-${TARGETARCH}`).arg(TARGETARCH).copy('a', `/out-${TARGETARCH}`),
      ),
    ).toEqual([]);
  });
});

describe('define({ platforms })', () => {
  const app = stage('app').from('scratch');

  it('is the default platform list; a target’s own platforms win for it', () => {
    const both = ['linux/amd64', 'linux/arm64'];
    expect(definitionPlatforms(define({ target: app, platforms: both }))).toEqual(both);
    expect(definitionPlatforms(define({ target: app }))).toBeUndefined();
    const defined = define({
      platforms: both,
      targets: { app, arm: { stage: app.as('arm'), platforms: ['linux/arm64'] } },
    });
    expect(definitionPlatforms(defined, 'arm')).toEqual(['linux/arm64']);
    expect(definitionPlatforms(defined, 'app')).toEqual(both);
  });

  it('refuses a bad platform where the definition is written, naming it', () => {
    const attempt = () => define({ target: app, platforms: ['linux/amd64', 'linux/'] });
    expect(attempt).toThrowError(/define\(\) platforms: .*linux\//);
    try {
      attempt();
    } catch (error) {
      expect(isWharfError(error) && error.location?.file).toMatch(/platform-args\.test\.ts$/);
    }
    expect(() => define({ target: app, platforms: [] })).toThrowError(/non-empty list of platforms/);
    expect(() => define({ target: app, platforms: 'linux/amd64' as unknown as string[] })).toThrowError(
      /non-empty list of platforms/,
    );
  });
});
