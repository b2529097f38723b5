/**
 * DSL mistakes are one-line `DSL_USAGE` errors at the build.ts line, and a misspelt option names the
 * option it was probably meant to be ("did you mean").
 */
import { describe, expect, test } from 'vitest';
import { closest, isWharfError, unknownNameHint, type WharfError } from '../errors.js';
import { define, toGraph } from './graph.js';
import { http } from './healthcheck.js';
import { ociLabels } from './labels.js';
import { bind, cache, secret, ssh, tmpfs } from './mounts.js';
import { stage } from './stage.js';
import { nonRootUser } from './user.js';
import { context, heredoc } from './values.js';

/** The WharfError `make` throws. */
function thrown(make: () => unknown): WharfError {
  try {
    make();
  } catch (error) {
    if (isWharfError(error)) return error;
    throw error;
  }
  throw new Error('nothing was thrown');
}

const base = () => stage('app').from('alpine:3.20');

describe('closest and unknownNameHint (errors.ts)', () => {
  test('the closest name within two edits, ignoring case; none when nothing is close', () => {
    expect(closest('cachedir', ['cacheDir', 'noCache'])).toBe('cacheDir');
    expect(closest('mount', ['mounts', 'network'])).toBe('mounts');
    expect(closest('platfrom', ['platform'])).toBe('platform');
    expect(closest('zzz', ['mounts', 'network'])).toBeUndefined();
  });

  test('the hint guesses each close name, then lists the known ones', () => {
    expect(unknownNameHint('mount', ['mounts', 'network'])).toBe(
      'did you mean "mounts"? options: mounts, network',
    );
    expect(unknownNameHint(['mount', 'netwrk'], ['mounts', 'network'])).toBe(
      'did you mean "mounts", "network"? options: mounts, network',
    );
    expect(unknownNameHint('zzz', ['mounts'])).toBe('options: mounts');
  });
});

describe('a misspelt option is an error naming the closest option', () => {
  test.each([
    ['run()', 'mount', () => base().run('npm ci', { mount: [] } as never), 'mounts'],
    ['copy()', 'chmode', () => base().copy('.', '/app', { chmode: '755' } as never), 'chmod'],
    ['add()', 'checksun', () => base().add('a.tgz', '/', { checksun: 'sha256:0' } as never), 'checksum'],
    ['from()', 'platfrom', () => stage('x').from('alpine', { platfrom: 'linux/arm64' } as never), 'platform'],
    [
      'healthcheck()',
      'intervall',
      () => base().healthcheck(['true'], { intervall: '30s' } as never),
      'interval',
    ],
    ['cache()', 'sharng', () => cache('/x', { sharng: 'locked' } as never), 'sharing'],
    ['cache.npm()', 'sharng', () => cache.npm({ sharng: 'locked' } as never), 'sharing'],
    ['cache.go()', 'sharng', () => cache.go({ sharng: 'locked' } as never), 'sharing'],
    ['bind()', 'sorce', () => bind('/x', { sorce: 'a' } as never), 'source'],
    ['secret()', 'taget', () => secret('npmrc', { taget: '/root/.npmrc' } as never), 'target'],
    ['ssh()', 'requird', () => ssh({ requird: true } as never), 'required'],
    ['tmpfs()', 'sise', () => tmpfs('/tmp', { sise: 1 } as never), 'size'],
    ['nonRootUser()', 'nmae', () => nonRootUser(base(), { nmae: 'svc' } as never), 'name'],
    ['ociLabels()', 'titel', () => ociLabels({ titel: 'app' } as never), 'title'],
    ['http()', 'hots', () => http(80, '/', { hots: 'localhost' } as never), 'host'],
    ['context()', 'nmae', () => context('.', { nmae: 'x' } as never), 'name'],
    ['heredoc()', 'expnd', () => heredoc('a.sh', 'x', { expnd: true } as never), 'expand'],
    ['define()', 'targt', () => define({ target: base(), targt: base() } as never), 'target'],
  ])('%s with "%s"', (method, option, make, meant) => {
    const error = thrown(make);
    expect(error.code).toBe('DSL_USAGE');
    expect(error.message).toBe(`${method} has no option "${option}"`);
    expect(error.hint).toMatch(new RegExp(`^did you mean "${meant}"\\? options: `));
    expect(error.location?.file).toMatch(/usage\.test\.ts$/);
  });

  test('an option nothing is close to lists the options alone', () => {
    expect(thrown(() => base().run('x', { zzz: 1 } as never)).hint).toBe(
      'options: mounts, network, security, asScript',
    );
  });

  test('an unknown --target names the closest target', () => {
    const app = base();
    const definition = define({ targets: { app, test: app.run('make test').as('test') } });
    const error = thrown(() => toGraph(definition, { target: 'tset' }));
    expect(error.code).toBe('DSL_UNKNOWN_TARGET');
    expect(error.hint).toBe('did you mean "test"? the targets are app, test');
  });
});

describe('other DSL mistakes are DSL_USAGE errors at the call, with the fix', () => {
  test('a command string where exec form is expected', () => {
    const error = thrown(() => base().cmd('node server.js' as never));
    expect(error.message).toBe('cmd() got the string "node server.js": exec form is an array');
    expect(error.hint).toBe('cmd(["node","server.js"]), or cmd(sh("node server.js")) for shell form');
    expect(error.location?.file).toMatch(/usage\.test\.ts$/);
  });

  test('a heredoc without a usable name, and ONBUILD inside ONBUILD', () => {
    expect(thrown(() => heredoc('a b', 'x')).code).toBe('DSL_USAGE');
    expect(thrown(() => base().onbuild((s) => s.onbuild((t) => t.run('x')))).message).toMatch(
      /^onbuild\(\) cannot record an ONBUILD/,
    );
  });

  test('an options argument that is a DSL value, not an options object', () => {
    expect(thrown(() => base().run('x', base() as never)).message).toBe(
      'run() expects an options object as its last argument, got object',
    );
  });
});
