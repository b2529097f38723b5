import { describe, expect, it } from 'vitest';
import { WharfError } from '../errors.js';
import { assertValidGraph } from '../ir/validate.js';
import { define, toGraph } from './graph.js';
import { bind, cache, secret } from './mounts.js';
import { type Stage, stage } from './stage.js';
import { context, image, sh } from './values.js';

/** The IR without source locations (they name this test file's lines). */
function ir(value: Parameters<typeof toGraph>[0], target?: string) {
  return JSON.parse(
    JSON.stringify(toGraph(value, target ? { target } : {}), (k, v) => (k === 'source' ? undefined : v)),
  );
}

describe('toGraph', () => {
  it('turns the seeds’ Node example into two stages, build first', () => {
    const build = stage('build')
      .from('node:20-alpine')
      .workdir('/app')
      .copy(['package.json', 'package-lock.json'], './')
      .run('npm ci')
      .copy('.', '.')
      .run('npm run build');
    const runtime = stage('runtime')
      .from('node:20-alpine')
      .workdir('/app')
      .copy(build, '/app/dist', './dist')
      .user('node')
      .expose(3000)
      .cmd(['node', 'dist/server.js']);
    const graph = ir(runtime);
    expect(graph.stages.map((s: { name: string }) => s.name)).toEqual(['build', 'runtime']);
    expect(graph.target).toBe('runtime');
    expect(graph.stages[1].instructions).toEqual([
      { kind: 'workdir', path: '/app' },
      { kind: 'copy', sources: ['/app/dist'], dest: './dist', from: { kind: 'stage', stage: 'build' } },
      { kind: 'user', user: 'node' },
      { kind: 'expose', ports: ['3000'] },
      { kind: 'cmd', command: { form: 'exec', argv: ['node', 'dist/server.js'] } },
    ]);
    expect(() => assertValidGraph(toGraph(runtime))).not.toThrow();
  });

  it('names anonymous stages by position and dedupes equal stage values', () => {
    const base = stage().from('alpine:3.20').workdir('/src');
    const a = base.run('make a');
    const app = stage('app')
      .from('scratch')
      .copy(a, '/src/a', '/a')
      .copy(base.run('make a'), '/src/a', '/a2');
    const graph = ir(app);
    expect(graph.stages.map((s: { name: string }) => s.name)).toEqual(['stage-0', 'app']);
  });

  it('rejects two different stages with one name', () => {
    const base = stage('base').from('alpine');
    const app = stage('app').from('scratch').copy(base.run('a'), '/a', '/a').copy(base.run('b'), '/b', '/b');
    expect(() => toGraph(app)).toThrowError(/two different stages are both named "base"/);
  });

  it('FROM another stage, stage values in mounts, named contexts and images', () => {
    const deps = stage('deps')
      .from('node:20')
      .run('npm ci', { mounts: [cache.npm(), secret('npmrc', { target: '/root/.npmrc' })] });
    const tools = context('../tools', { name: 'tools' });
    const app = stage('app')
      .from(deps)
      .copy(tools, 'bin/', '/usr/local/bin/')
      .copy(image('busybox:1.36'), '/bin/busybox', '/bin/busybox')
      .run('make', { mounts: [cache('/out', { from: deps, source: '/app' })] });
    const graph = ir(
      define({
        target: app,
        args: { NODE: '20', FLAG: undefined },
        context: context('.').ignore(['node_modules']),
      }),
    );
    expect(graph.args).toEqual([{ name: 'NODE', default: '20' }, { name: 'FLAG' }]);
    expect(graph.context).toEqual({ dir: '.', ignore: ['node_modules'] });
    expect(graph.namedContexts).toEqual({ tools: { dir: '../tools' } });
    expect(graph.stages[1].base).toEqual({ kind: 'stage', stage: 'deps' });
    expect(graph.stages[1].instructions[2].mounts[0].from).toEqual({ kind: 'stage', stage: 'deps' });
    expect(graph.stages[0].instructions[0].mounts).toEqual([
      { type: 'cache', target: '/root/.npm', id: 'npm' },
      { type: 'secret', id: 'npmrc', target: '/root/.npmrc' },
    ]);
  });

  it('picks a target from several, and says which exist', () => {
    const a = stage('a').from('scratch');
    const b = stage('b').from('scratch');
    const def = define({ targets: { a, b } });
    expect(ir(def, 'b').target).toBe('b');
    expect(() => toGraph(def)).toThrowError(WharfError);
    expect(() => toGraph(def)).toThrowError(/several targets are defined: a, b/);
    expect(() => toGraph(def, { target: 'c' })).toThrowError(/no target named "c"/);
  });

  it('--target may name any stage a target uses, as docker build --target does', () => {
    const deps = stage('deps').from('node:20').run('npm ci');
    const app = stage('app').from(deps).copy('.', '/app');
    const graph = ir(define({ targets: { app } }), 'deps');
    expect(graph.target).toBe('deps');
    expect(graph.stages.map((s: { name: string }) => s.name)).toEqual(['deps']);
  });

  it('records the build definition line that made each instruction', () => {
    const graph = toGraph(stage('x').from('scratch').expose(70000));
    const source = graph.stages[0]?.instructions[0]?.source;
    expect(source?.file).toMatch(/graph\.test\.ts$/);
    expect(() => assertValidGraph(graph)).toThrowError(
      /stage "x", EXPOSE \(instruction 1\): invalid port "70000"/,
    );
  });
});

describe('stage methods', () => {
  const one = (s: ReturnType<ReturnType<typeof stage>['from']>) => ir(s).stages[0].instructions;

  it('covers every instruction', () => {
    const s = stage('all')
      .from('alpine:3.20', { platform: 'linux/arm64' })
      .arg('VERSION', '1.0')
      .arg({ A: undefined })
      .env({ PATH: '/app/bin:$PATH', PORT: 3000 })
      .label({ 'org.opencontainers.image.title': 'all' })
      .workdir('/app')
      .add('https://example.com/x.tgz', '/tmp/', { checksum: `sha256:${'a'.repeat(64)}` })
      .add('https://github.com/a/b.git#v1', '/src', { keepGitDir: true })
      .copy('src', 'src', { chown: 'node:node', chmod: '755', link: true, exclude: ['*.md'], parents: true })
      .run(['echo', 'hi'], { network: 'none', security: 'insecure' })
      .expose(3000, '53/udp')
      .volume('/data')
      .user(1000, 1000)
      .entrypoint(['tini', '--'])
      .cmd(sh('node server.js'))
      .healthcheck(['wget', '-qO-', 'localhost'], {
        interval: 30,
        timeout: '3s',
        startPeriod: '5s',
        startInterval: '1s',
        retries: 3,
      })
      .stopsignal('SIGINT')
      .shell(['/bin/bash', '-c'])
      .onbuild((t) => t.copy('.', '/app').run('npm ci'));
    const graph = ir(s);
    expect(graph.stages[0].platform).toBe('linux/arm64');
    expect(graph.stages[0].instructions.map((i: { kind: string }) => i.kind)).toEqual([
      'arg',
      'arg',
      'env',
      'label',
      'workdir',
      'add',
      'add',
      'copy',
      'run',
      'expose',
      'volume',
      'user',
      'entrypoint',
      'cmd',
      'healthcheck',
      'stopsignal',
      'shell',
      'onbuild',
      'onbuild',
    ]);
    expect(graph.stages[0].instructions[7]).toEqual({
      kind: 'copy',
      sources: ['src'],
      dest: 'src',
      chown: 'node:node',
      chmod: '755',
      link: true,
      exclude: ['*.md'],
      parents: true,
    });
    expect(graph.stages[0].instructions[14].check).toEqual({
      test: 'cmd',
      command: { form: 'exec', argv: ['wget', '-qO-', 'localhost'] },
      interval: '30s',
      timeout: '3s',
      startPeriod: '5s',
      startInterval: '1s',
      retries: 3,
    });
    expect(graph.stages[0].instructions[17].instruction).toEqual({
      kind: 'copy',
      sources: ['.'],
      dest: '/app',
    });
    expect(() => assertValidGraph(toGraph(s))).not.toThrow();
  });

  it('joins a multi-line list of simple commands with &&, keeps real scripts', () => {
    const joined = one(
      stage()
        .from('debian')
        .run(`
      apt-get update
      apt-get install -y curl
    `),
    );
    expect(joined[0].command).toEqual({ form: 'shell', script: 'apt-get update && apt-get install -y curl' });
    const script = one(
      stage()
        .from('debian')
        .run(`
      if [ -f x ]; then
        echo yes
      fi
    `),
    );
    expect(script[0].command.script).toBe('if [ -f x ]; then\n  echo yes\nfi');
    const asWritten = one(
      stage()
        .from('debian')
        .run(
          `
      apt-get update
      apt-get install -y curl
    `,
          { asScript: true },
        ),
    );
    expect(asWritten[0].command.script).toBe('apt-get update\napt-get install -y curl');
  });

  it('refuses a string CMD with a hint towards exec form', () => {
    // @ts-expect-error — a string is not a CommandInput
    expect(() => stage().from('x').cmd('node server.js')).toThrowError(
      expect.objectContaining({
        code: 'DSL_USAGE',
        hint: expect.stringMatching(/\["node","server.js"\]|sh\(/),
      }),
    );
  });
});

describe('DSL traps are usage errors at the build.ts line', () => {
  const base = () => stage('b').from('alpine');
  it.each<[string, () => unknown, RegExp]>([
    [
      'a stage name string in copy()',
      () => (base() as unknown as { copy(...paths: string[]): Stage }).copy('build', '/out', '/app'),
      /stage is passed as its value/,
    ],
    ['from("")', () => stage().from(''), /from\(\) expected an image reference/],
    ['from(undefined)', () => stage().from(undefined as unknown as string), /got undefined/],
    ['chmod as a number', () => base().copy('a', '/a', { chmod: 755 as unknown as string }), /is it octal/],
    ['a misspelt option', () => base().copy('a', '/a', { chmown: 'x' } as object), /no option "chmown"/],
    ['a misspelt run() option', () => base().run('x', { mount: [] } as object), /no option "mount"/],
    ['a misspelt define() option', () => define({ target: base(), arg: {} } as object), /no option "arg"/],
    ['a non-stage target', () => define({ target: 'app' as unknown as Stage }), /target must be a stage/],
  ])('%s', (_, call, message) => {
    let error: unknown;
    try {
      call();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WharfError);
    expect((error as WharfError).code).toBe('DSL_USAGE');
    expect((error as WharfError).message).toMatch(message);
    expect((error as WharfError).location?.file).toMatch(/graph\.test\.ts$/);
  });

  it('bind({ from: "b" }) with b a stage name is refused (the backends would disagree)', () => {
    const b = stage('b').from('alpine').run('touch /x');
    const app = stage('app')
      .from('alpine')
      .copy(b, '/x', '/y')
      .run('cat /x', { mounts: [bind('/x', { from: 'b' })] });
    expect(() => toGraph(app)).toThrowError(/names both an image and a stage/);
  });

  it('.as() on a named stage keeps that stage a target of its own', () => {
    const builder = stage('builder').from('alpine').run('make');
    const app = builder.run('make install').as('app');
    const graph = toGraph(app);
    expect(graph.stages.map((s) => s.name)).toEqual(['builder', 'app']);
    expect(toGraph(app, { target: 'builder' }).stages.map((s) => s.name)).toEqual(['builder']);
  });

  it('define({ target, targets }): target by default, any target or stage by name', () => {
    const app = stage('app').from('alpine');
    const test = stage('test').from('alpine').run('true');
    const def = define({ target: app, targets: { test } });
    expect(toGraph(def).target).toBe('app');
    expect(toGraph(def, { target: 'test' }).target).toBe('test');
  });

  it('define({ targets }): a target may be { stage, tags, … }; bare stages keep working', () => {
    const base = stage('base').from('alpine').run('echo shared');
    const api = stage('api').from(base).run('true');
    const web = stage('web').from(base).run('false');
    const def = define({
      targets: { api: { stage: api, tags: ['r.example/api:1'], platforms: ['linux/amd64'] }, web },
      groups: { default: ['api', 'web'] },
    });
    expect(toGraph(def, { target: 'api' }).stages.map((s) => s.name)).toEqual(['base', 'api']);
    expect(toGraph(def, { target: 'web' }).target).toBe('web');
    // any stage a target uses is still reachable by name
    expect(toGraph(def, { target: 'base' }).target).toBe('base');
  });

  it.each([
    [{ targets: { api: { tags: ['x'] } } }, /targets\.api must be a stage or \{ stage, tags\?, … \}/],
    [{ targets: { api: { stage: stage('a').from('x'), tag: ['x'] } } }, /targets\.api has no option "tag"/],
    [{ targets: { api: { stage: stage('a').from('x'), tags: 'x' } } }, /targets\.api\.tags must be a list/],
    [{ targets: { api: { stage: stage('a').from('x'), args: { A: 1 } } } }, /targets\.api\.args must map/],
    [
      { targets: { api: stage('a').from('x') }, groups: { default: ['apii'] } },
      /groups\.default names "apii"/,
    ],
    [
      { targets: { api: stage('a').from('x') }, groups: { api: ['api'] } },
      /"api" is both a target and a group/,
    ],
  ])('define() refuses a bad target or group: %j', (input, message) => {
    expect(() => define(input as never)).toThrowError(message);
  });
});

describe('a FROM word with variables that can name a stage', () => {
  it('keeps the stages it can name in the graph, before the target (`base-${TARGETARCH}`)', () => {
    const amd = stage('base-amd64').from('alpine:3.20');
    const arm = stage('base-arm64').from('arm64v8/alpine:3.20');
    const other = stage('test').from('alpine:3.20').run('true');
    const app = stage().from('base-${TARGETARCH}').run('true');
    const graph = toGraph(define({ target: app, targets: { amd, arm, other } }));
    expect(graph.stages.map((s) => s.name)).toEqual(['base-amd64', 'base-arm64', 'stage-2']);
    expect(graph.target).toBe('stage-2');
    // a word that is all variables names no stage in particular
    expect(toGraph(define({ target: stage().from('${BASE}'), targets: { amd } })).stages).toHaveLength(1);
  });
});
