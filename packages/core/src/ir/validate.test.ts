import { describe, expect, it } from 'vitest';
import { dependencyOrder, pruneToTarget } from './graph.js';
import type { BuildGraph, Instruction, Stage } from './types.js';
import { assertValidGraph, validateGraph } from './validate.js';

const stageOf = (
  name: string,
  instructions: Instruction[],
  base: Stage['base'] = { kind: 'scratch' },
): Stage => ({
  name,
  base,
  instructions,
});
const graphOf = (...stages: Stage[]): BuildGraph => ({
  version: 1,
  args: [],
  stages,
  context: { dir: '.' },
  namedContexts: {},
});
const errorsOf = (instruction: Instruction) =>
  validateGraph(graphOf(stageOf('app', [{ kind: 'workdir', path: '/app' }, instruction])))
    .filter((p) => p.severity === 'error')
    .map((p) => p.message);

describe('validateGraph', () => {
  it.each<[string, Instruction, RegExp]>([
    [
      'port out of range',
      { kind: 'expose', ports: ['70000'] },
      /EXPOSE \(instruction 2\): invalid port "70000"/,
    ],
    ['reversed port range', { kind: 'expose', ports: ['90-80'] }, /invalid port "90-80"/],
    ['unknown protocol', { kind: 'expose', ports: ['80/http'] }, /invalid port "80\/http"/],
    ['bad signal', { kind: 'stopsignal', signal: 'SIGNOPE' }, /invalid stop signal "SIGNOPE"/],
    [
      'bad duration',
      {
        kind: 'healthcheck',
        check: { test: 'cmd', command: { form: 'exec', argv: ['true'] }, interval: '30' },
      },
      /invalid interval "30"/,
    ],
    [
      'bad retries',
      { kind: 'healthcheck', check: { test: 'cmd', command: { form: 'exec', argv: ['true'] }, retries: -1 } },
      /invalid retries -1/,
    ],
    ['bad chmod', { kind: 'copy', sources: ['a'], dest: '/a', chmod: '999' }, /invalid chmod "999"/],
    ['bad chown', { kind: 'copy', sources: ['a'], dest: '/a', chown: 'a:b:c' }, /invalid chown "a:b:c"/],
    [
      'empty RUN',
      { kind: 'run', command: { form: 'shell', script: '  ' } },
      /RUN \(instruction 2\): RUN needs a command/,
    ],
    ['empty exec RUN', { kind: 'run', command: { form: 'exec', argv: [] } }, /RUN needs a command/],
    ['bad env key', { kind: 'env', vars: [{ key: 'A B', value: '1' }] }, /invalid variable name "A B"/],
    ['bad arg name', { kind: 'arg', args: [{ name: '1X' }] }, /invalid ARG name "1X"/],
    [
      'bad checksum',
      { kind: 'add', sources: ['https://x/y'], dest: '/y', checksum: 'md5:abc' },
      /invalid checksum "md5:abc"/,
    ],
    [
      'cache mount without target',
      { kind: 'run', command: { form: 'shell', script: 'x' }, mounts: [{ type: 'cache', target: '' }] },
      /cache mount needs a target/,
    ],
  ])('%s', (_, instruction, message) => {
    expect(errorsOf(instruction).join('\n')).toMatch(message);
  });

  it('accepts valid values and values that expand later', () => {
    for (const instruction of [
      { kind: 'expose', ports: ['80', '53/udp', '8000-8010/tcp', '$PORT'] },
      { kind: 'stopsignal', signal: 'SIGRTMIN+3' },
      { kind: 'stopsignal', signal: '9' },
      { kind: 'copy', sources: ['a'], dest: '/a', chmod: '0755', chown: '1000:1000' },
      { kind: 'copy', sources: ['a', 'b'], dest: '/usr/local/bin' }, // BuildKit copies them in turn
      {
        kind: 'healthcheck',
        check: { test: 'cmd', command: { form: 'exec', argv: ['true'] }, interval: '1m30s', retries: 0 },
      },
    ] as Instruction[]) {
      expect(errorsOf(instruction)).toEqual([]);
    }
  });

  it('warns that a relative COPY destination resolves against the inherited WORKDIR', () => {
    const problems = validateGraph(graphOf(stageOf('app', [{ kind: 'copy', sources: ['a'], dest: 'a' }])));
    expect(problems).toEqual([expect.objectContaining({ severity: 'warning', code: 'IR_RELATIVE_DEST' })]);
  });

  it('finds unknown stages, cycles and duplicate names', () => {
    const unknown = graphOf(stageOf('app', [], { kind: 'stage', stage: 'buld' }));
    expect(() => assertValidGraph(unknown)).toThrowError(/stage "app" uses unknown stage "buld"/);
    const cycle = graphOf(
      stageOf('a', [{ kind: 'copy', sources: ['/x'], dest: '/x', from: { kind: 'stage', stage: 'b' } }]),
      stageOf('b', [], { kind: 'stage', stage: 'a' }),
    );
    expect(() => assertValidGraph(cycle)).toThrowError(/cycle: a → b → a/);
    expect(() => assertValidGraph(graphOf(stageOf('a', []), stageOf('a', [])))).toThrowError(
      /two stages are named "a"/,
    );
    expect(() => assertValidGraph(graphOf(stageOf('App', [])))).toThrowError(/invalid stage name "App"/);
  });

  it('counts further problems in the thrown message', () => {
    const graph = graphOf(stageOf('app', [{ kind: 'expose', ports: ['0', '70000'] }]));
    expect(() => assertValidGraph(graph)).toThrowError(/invalid port "0" \(and 1 more problem\)/);
  });
});

describe('graph utilities', () => {
  const graph = graphOf(
    stageOf('base', []),
    stageOf('unused', [], { kind: 'stage', stage: 'base' }),
    stageOf('tools', []),
    stageOf(
      'app',
      [
        { kind: 'copy', sources: ['/t'], dest: '/t', from: { kind: 'stage', stage: 'tools' } },
        {
          kind: 'run',
          command: { form: 'shell', script: 'x' },
          mounts: [{ type: 'bind', target: '/b', from: { kind: 'context', name: 'ctx' } }],
        },
      ],
      { kind: 'stage', stage: 'base' },
    ),
  );
  const withContexts = { ...graph, namedContexts: { ctx: { dir: '../ctx' }, other: { dir: '../o' } } };

  it('orders dependencies first', () => {
    expect(dependencyOrder(graph).map((s) => s.name)).toEqual(['base', 'unused', 'tools', 'app']);
  });

  it('prunes to what the target needs, including named contexts', () => {
    const pruned = pruneToTarget(withContexts, 'app');
    expect(pruned.stages.map((s) => s.name)).toEqual(['base', 'tools', 'app']);
    expect(Object.keys(pruned.namedContexts)).toEqual(['ctx']);
    expect(pruneToTarget(withContexts, 'unused').stages.map((s) => s.name)).toEqual(['base', 'unused']);
    expect(() => pruneToTarget(withContexts, 'nope')).toThrowError(/no stage named "nope"/);
  });

  it("keeps (and orders first) a stage an ONBUILD trigger's --from names; other words stay images", () => {
    const trigger = (from: string): Instruction => ({
      kind: 'onbuild',
      instruction: { kind: 'copy', sources: ['/a'], dest: '/a', from: { kind: 'image', ref: from } },
    });
    const onbuild = graphOf(
      stageOf('assets', []),
      stageOf('parent', [trigger('Assets'), trigger('alpine')]),
      stageOf('child', [], { kind: 'stage', stage: 'parent' }),
    );
    expect(pruneToTarget(onbuild, 'child').stages.map((s) => s.name)).toEqual(['assets', 'parent', 'child']);
    const cycle = graphOf(
      stageOf('parent', [trigger('child')]),
      stageOf('child', [], { kind: 'stage', stage: 'parent' }),
    );
    expect(() => pruneToTarget(cycle, 'child')).toThrowError(/cycle: child → parent → child/);
  });
});

describe('what real-world Dockerfiles rely on (BuildKit accepts it)', () => {
  it.each<[string, Instruction]>([
    ['several sources into "."', { kind: 'copy', sources: ['a', 'b'], dest: '.' }],
    ['several sources into "sub/."', { kind: 'copy', sources: ['a', 'b'], dest: 'sub/.' }],
    ['a Windows directory', { kind: 'copy', sources: ['a', 'b'], dest: 'C:\\Windows\\System32\\' }],
    ['--chown=:group', { kind: 'copy', sources: ['a'], dest: '/a', chown: ':staff' }],
    [
      'a bind mount at the working directory',
      { kind: 'run', command: { form: 'shell', script: 'ls' }, mounts: [{ type: 'bind', target: '.' }] },
    ],
  ])('%s', (_, instruction) => {
    expect(errorsOf(instruction)).toEqual([]);
  });

  it('refuses an image name BuildKit cannot parse, written out (not one that still has a $)', () => {
    // BuildKit 20.10: failed to parse stage name "Busybox": invalid reference format (a corpus template
    // has `FROM debian:%%DEBIAN-SUITE%%-slim`).
    const bad = (ref: string) =>
      validateGraph(graphOf(stageOf('app', [], { kind: 'image', ref }))).map((p) => p.message);
    expect(bad('Busybox')).toEqual([
      'stage "app": FROM names no image: invalid image reference "Busybox": repository name "library/Busybox" must be lowercase',
    ]);
    expect(bad('debian:%%SUITE%%-slim')[0]).toMatch(/FROM names no image: .*invalid tag/);
    expect(bad('debian:${SUITE}-slim')).toEqual([]);
    expect(bad(`ghcr.io/org/app:1.0@sha256:${'a'.repeat(64)}`)).toEqual([]);
    expect(bad('oci-layout://base:latest')).toEqual([]); // a local layout, read by the engine
    expect(
      errorsOf({ kind: 'copy', sources: ['/x'], dest: '/x', from: { kind: 'image', ref: 'Tool' } }),
    ).toEqual([
      'stage "app": COPY from names no image: invalid image reference "Tool": repository name "library/Tool" must be lowercase',
    ]);
  });

  it('still refuses "user:"; several sources into a path not written as a directory are copied in turn', () => {
    expect(errorsOf({ kind: 'copy', sources: ['a'], dest: '/a', chown: 'app:' })).toHaveLength(1);
    // BuildKit 20.10 builds `COPY a b /a` (kaniko's Dockerfile_test_copy relies on it): no error here.
    expect(errorsOf({ kind: 'copy', sources: ['a', 'b'], dest: '/a' })).toEqual([]);
  });

  it('a WORKDIR set in the base stage counts; a Dockerfile gets a Dockerfile hint', () => {
    const copy: Instruction = {
      kind: 'copy',
      sources: ['a'],
      dest: 'a',
      source: { file: 'app/Dockerfile', line: 3 },
    };
    const base = stageOf('base', [{ kind: 'workdir', path: '/w' }]);
    const inherited = validateGraph(graphOf(base, stageOf('app', [copy], { kind: 'stage', stage: 'base' })));
    expect(inherited).toEqual([]);
    const [warning] = validateGraph(graphOf(stageOf('app', [copy])));
    expect(warning?.code).toBe('IR_RELATIVE_DEST');
    expect(warning?.hint).toMatch(/add a WORKDIR/);
  });
});
