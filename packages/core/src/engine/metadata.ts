/**
 * The config side of instructions: ENV, LABEL, USER, EXPOSE, VOLUME, STOPSIGNAL, CMD, ENTRYPOINT,
 * HEALTHCHECK, SHELL, ONBUILD, ARG and WORKDIR's config part, each a pure function from the stage's
 * config to the next one, with Docker's semantics (ENTRYPOINT clears an inherited CMD, EXPOSE ranges
 * expand to one port each, WORKDIR resolves against the previous one, …). Filesystem effects live in
 * the layer steps.
 */
import { posix } from 'node:path';
import { WharfError } from '../errors.js';
import { expandWord, type Lookup } from '../ir/expand.js';
import { MAX_CONFIG_ENV_AND_LABELS } from '../ir/limits.js';
import type { Command, HealthcheckSpec, Instruction } from '../ir/types.js';
import type { ContainerConfig, HealthConfig } from '../oci/types.js';

/** What the config steps of one stage carry along. */
export interface ConfigState {
  readonly config: ContainerConfig;
  /** Whether this stage set CMD itself (then a later ENTRYPOINT keeps it). */
  readonly cmdSet: boolean;
}

/** The default shell for shell-form commands when the image sets none. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];
/** BuildKit gives a stage with no PATH this one (Linux). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type MetadataInstruction = Extract<
  Instruction,
  {
    kind:
      | 'env'
      | 'label'
      | 'user'
      | 'expose'
      | 'volume'
      | 'stopsignal'
      | 'cmd'
      | 'entrypoint'
      | 'healthcheck'
      | 'shell'
      | 'workdir';
  }
>;

/** Applies one metadata instruction; `lookup` expands Words (ENV, then declared ARGs). */
export function applyMetadata(
  state: ConfigState,
  instruction: MetadataInstruction,
  lookup: Lookup,
): ConfigState {
  const config = state.config;
  const expand = (word: string) => expandWord(word, lookup);
  switch (instruction.kind) {
    case 'env': {
      let env = config.Env ?? [];
      // Every pair expands against the environment before the instruction, as in BuildKit.
      for (const { key, value } of instruction.vars) env = setEnv(env, expand(key), expand(value));
      return { ...state, config: boundedEnvAndLabels({ ...config, Env: env }, 'ENV') };
    }
    case 'label': {
      const labels: Record<string, string> = { ...(config.Labels ?? {}) };
      for (const { key, value } of instruction.labels) labels[expand(key)] = expand(value);
      return { ...state, config: boundedEnvAndLabels({ ...config, Labels: labels }, 'LABEL') };
    }
    case 'user':
      return { ...state, config: { ...config, User: expand(instruction.user) } };
    case 'workdir':
      return {
        ...state,
        config: { ...config, WorkingDir: resolveWorkdir(config.WorkingDir, expand(instruction.path)) },
      };
    case 'expose': {
      const ports: Record<string, Record<string, never>> = { ...(config.ExposedPorts ?? {}) };
      for (const spec of instruction.ports) for (const port of expandPortSpec(expand(spec))) ports[port] = {};
      return { ...state, config: { ...config, ExposedPorts: ports } };
    }
    case 'volume': {
      const volumes: Record<string, Record<string, never>> = { ...(config.Volumes ?? {}) };
      for (const path of instruction.paths) {
        const value = expand(path);
        if (value === '')
          throw new WharfError('ENGINE_EMPTY_VOLUME', 'VOLUME specified can not be an empty string');
        volumes[value] = {};
      }
      return { ...state, config: { ...config, Volumes: volumes } };
    }
    case 'stopsignal':
      return { ...state, config: { ...config, StopSignal: expand(instruction.signal) } };
    case 'cmd':
      return { config: { ...config, Cmd: commandArgv(instruction.command, config) }, cmdSet: true };
    case 'entrypoint':
      return {
        ...state,
        // An ENTRYPOINT resets a CMD inherited from the base image, but not one set in this stage.
        config: {
          ...config,
          Entrypoint: commandArgv(instruction.command, config),
          ...(state.cmdSet ? {} : { Cmd: null }),
        },
      };
    case 'healthcheck':
      return { ...state, config: { ...config, Healthcheck: healthConfig(instruction.check) } };
    case 'shell':
      return { ...state, config: { ...config, Shell: [...instruction.argv] } };
  }
}

/**
 * Each value is bounded (1 MiB), but many ENV or LABEL lines still add up: an untrusted definition must
 * not make wharf write (and every runtime read) a config of hundreds of MB.
 */
function boundedEnvAndLabels(config: ContainerConfig, instruction: 'ENV' | 'LABEL'): ContainerConfig {
  let size = 0;
  for (const entry of config.Env ?? []) size += entry.length;
  for (const [key, value] of Object.entries(config.Labels ?? {})) size += key.length + value.length;
  if (size > MAX_CONFIG_ENV_AND_LABELS) {
    throw new WharfError(
      'ENGINE_CONFIG_TOO_LARGE',
      `${instruction} makes the image config's environment and labels ${size} characters, more than the limit of ${MAX_CONFIG_ENV_AND_LABELS} (4 MiB)`,
      { hint: 'keep large data out of ENV and LABEL: write it to a file in a RUN or COPY step' },
    );
  }
  return config;
}

/** `/a` + `b` → `/a/b`; absolute paths replace; the result is clean. */
export function resolveWorkdir(previous: string | undefined, path: string): string {
  return posix.resolve(previous || '/', path);
}

/** Shell form runs under the image's SHELL (default `/bin/sh -c`). */
export function commandArgv(command: Command, config: ContainerConfig): string[] {
  return command.form === 'exec' ? [...command.argv] : [...(config.Shell ?? DEFAULT_SHELL), command.script];
}

const durationUnits: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration for the forms Dockerfiles use (`30s`, `1m30s`, `1.5s`), in nanoseconds. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new WharfError('ENGINE_BAD_DURATION', `invalid duration "${text}"`, {
      hint: 'use e.g. "30s" or "1m30s"',
    });
  }
  return Math.round(
    parts.reduce((sum, [, n, unit]) => sum + Number(n) * (durationUnits[unit ?? 's'] ?? 0), 0),
  );
}

/** A HEALTHCHECK replaces the inherited one entirely, as in Docker. */
function healthConfig(check: HealthcheckSpec): HealthConfig {
  if (check.test === 'none') return { Test: ['NONE'] };
  const test =
    check.command.form === 'exec' ? ['CMD', ...check.command.argv] : ['CMD-SHELL', check.command.script];
  const health: { -readonly [K in keyof HealthConfig]: HealthConfig[K] } = { Test: test };
  if (check.interval !== undefined) health.Interval = parseDuration(check.interval);
  if (check.timeout !== undefined) health.Timeout = parseDuration(check.timeout);
  if (check.startPeriod !== undefined) health.StartPeriod = parseDuration(check.startPeriod);
  if (check.startInterval !== undefined) health.StartInterval = parseDuration(check.startInterval);
  if (check.retries !== undefined) health.Retries = check.retries;
  return health;
}

/** `80` → `80/tcp`; `8000-8002/udp` → three entries; protocol lower-cased. */
export function expandPortSpec(spec: string): string[] {
  const match = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/.exec(spec);
  if (!match) {
    throw new WharfError('ENGINE_BAD_PORT', `invalid port "${spec}"`, {
      hint: 'use e.g. 80, "53/udp" or "8000-8010/tcp"',
    });
  }
  const start = Number(match[1]);
  const end = match[2] === undefined ? start : Number(match[2]);
  const protocol = (match[3] ?? 'tcp').toLowerCase();
  if (start < 1 || end > 65535 || end < start || !['tcp', 'udp', 'sctp'].includes(protocol)) {
    throw new WharfError('ENGINE_BAD_PORT', `invalid port "${spec}"`, {
      hint: 'ports are 1-65535; protocols tcp, udp, sctp',
    });
  }
  return Array.from({ length: end - start + 1 }, (_, i) => `${start + i}/${protocol}`);
}

export function envValue(env: readonly string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    const entry = env[i] as string;
    if (entry.startsWith(`${name}=`)) return entry.slice(name.length + 1);
  }
  return undefined;
}

/** Replaces `name` in place, or appends it, as Docker keeps the order of first definition. */
export function setEnv(env: readonly string[], name: string, value: string): string[] {
  const at = env.findIndex((entry) => entry.startsWith(`${name}=`));
  const entry = `${name}=${value}`;
  return at < 0 ? [...env, entry] : env.map((e, i) => (i === at ? entry : e));
}
