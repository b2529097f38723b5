import { describe, expect, it } from 'vitest';
import {
  applyMetadata,
  type ConfigState,
  expandPortSpec,
  type MetadataInstruction,
  parseDuration,
} from './metadata.js';
import { envLookup } from './scope.js';

function apply(
  instructions: MetadataInstruction[],
  start: ConfigState = { config: {}, cmdSet: false },
  args: Record<string, string> = {},
) {
  return instructions.reduce((state, instruction) => {
    const env = envLookup(state.config.Env);
    return applyMetadata(state, instruction, (n) => env(n) ?? args[n]);
  }, start);
}

describe('applyMetadata', () => {
  it('ENV replaces in place; every pair expands against the environment before it (BuildKit)', () => {
    const { config } = apply(
      [
        {
          kind: 'env',
          vars: [
            { key: 'PATH', value: '/app/bin:$PATH' },
            { key: 'A', value: '$V' },
            { key: 'B', value: '${A}-\\$lit' },
          ],
        },
      ],
      { config: { Env: ['PATH=/usr/bin', 'HOME=/root'] }, cmdSet: false },
      { V: '1.0' },
    );
    // `${A}` is the A before this ENV (unset), not the A=1.0 set earlier on the same line.
    expect(config.Env).toEqual(['PATH=/app/bin:/usr/bin', 'HOME=/root', 'A=1.0', 'B=-$lit']);
  });

  // issue 13 item 10: 5 ENV lines of 1 MiB each (each under the value limit) wrote a 5 MiB config
  it('bounds the total of Env and Labels at 4 MiB, naming the instruction', () => {
    const mib = 'x'.repeat(1024 * 1024 - 2);
    const env = (n: number): MetadataInstruction[] =>
      Array.from({ length: n }, (_, i) => ({ kind: 'env', vars: [{ key: `V${i}`, value: '$MIB' }] }));
    expect(apply(env(3), undefined, { MIB: mib }).config.Env).toHaveLength(3);
    expect(() => apply(env(5), undefined, { MIB: mib })).toThrow(
      expect.objectContaining({
        code: 'ENGINE_CONFIG_TOO_LARGE',
        message: expect.stringMatching(
          /^ENV makes the image config's environment and labels \d+ characters, more than the limit of 4194304 \(4 MiB\)$/,
        ),
      }),
    );
    expect(() =>
      apply([...env(3), { kind: 'label', labels: [{ key: 'big', value: '$MIB' }] }], undefined, {
        MIB: mib,
      }),
    ).toThrow(/^LABEL makes the image config's environment and labels/);
  });

  it('ENV wins over an ARG of the same name', () => {
    const { config } = apply(
      [
        { kind: 'env', vars: [{ key: 'X', value: 'env' }] },
        { kind: 'label', labels: [{ key: 'x', value: '$X' }] },
      ],
      undefined,
      { X: 'arg' },
    );
    expect(config.Labels).toEqual({ x: 'env' });
  });

  it('WORKDIR resolves against the previous one', () => {
    const { config } = apply([
      { kind: 'workdir', path: 'a' },
      { kind: 'workdir', path: 'b/../c' },
      { kind: 'workdir', path: '/abs' },
      { kind: 'workdir', path: 'd' },
    ]);
    expect(config.WorkingDir).toBe('/abs/d');
  });

  it('ENTRYPOINT clears an inherited CMD but keeps one set in the stage', () => {
    const inherited = { config: { Cmd: ['sh'] }, cmdSet: false };
    expect(
      apply([{ kind: 'entrypoint', command: { form: 'exec', argv: ['tini'] } }], inherited).config,
    ).toEqual({
      Cmd: null,
      Entrypoint: ['tini'],
    });
    expect(
      apply(
        [
          { kind: 'cmd', command: { form: 'exec', argv: ['x'] } },
          { kind: 'entrypoint', command: { form: 'shell', script: 'exec app' } },
        ],
        inherited,
      ).config,
    ).toEqual({ Cmd: ['x'], Entrypoint: ['/bin/sh', '-c', 'exec app'] });
  });

  it('shell forms use SHELL; HEALTHCHECK in nanoseconds; EXPOSE ranges', () => {
    const { config } = apply([
      { kind: 'shell', argv: ['/bin/bash', '-c'] },
      { kind: 'cmd', command: { form: 'shell', script: 'echo hi' } },
      {
        kind: 'healthcheck',
        check: {
          test: 'cmd',
          command: { form: 'shell', script: 'curl -f x' },
          interval: '1m30s',
          timeout: '500ms',
          retries: 2,
        },
      },
      { kind: 'expose', ports: ['80', '53/UDP', '8000-8002'] },
      { kind: 'volume', paths: ['/data'] },
      { kind: 'user', user: 'app' },
      { kind: 'stopsignal', signal: 'SIGINT' },
    ]);
    expect(config).toEqual({
      Shell: ['/bin/bash', '-c'],
      Cmd: ['/bin/bash', '-c', 'echo hi'],
      Healthcheck: { Test: ['CMD-SHELL', 'curl -f x'], Interval: 90e9, Timeout: 500e6, Retries: 2 },
      ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {}, '8002/tcp': {} },
      Volumes: { '/data': {} },
      User: 'app',
      StopSignal: 'SIGINT',
    });
    expect(apply([{ kind: 'healthcheck', check: { test: 'none' } }]).config.Healthcheck).toEqual({
      Test: ['NONE'],
    });
  });

  it('parses Go durations and rejects bad ports', () => {
    expect(parseDuration('1h2m3.5s')).toBe(3723.5e9);
    expect(() => parseDuration('10')).toThrowError(/invalid duration "10"/);
    expect(() => expandPortSpec('70000')).toThrowError(/invalid port/);
    expect(() => expandPortSpec('80/http')).toThrowError(/invalid port/);
  });
});
