/**
 * An image config as `wharf inspect` prints it, the same for a local layout or archive and a registry
 * image: labels padded to one column, lists one item a line, sizes by formatBytes (SI).
 */
import type * as oci from '@wharf/core/oci';

type ImageConfig = oci.ImageConfig;
type HealthConfig = oci.HealthConfig;

/** `Name:` padded to the value column. */
export function field(name: string, value: string): string {
  return `${`${name}:`.padEnd(14)}${value}`;
}

/** A field whose value is a list: the first item beside the label, the others below it; `-` when empty. */
function listField(name: string, items: readonly string[]): string {
  return field(name, items.length ? items.join(`\n${' '.repeat(14)}`) : '-');
}

/** User, WorkingDir, Entrypoint, Cmd, Healthcheck, Env, Ports, Volumes, Labels, StopSignal. */
export function configLines(config: ImageConfig): string[] {
  const c = config.config ?? {};
  return [
    field('User', c.User || '(root)'),
    field('WorkingDir', c.WorkingDir || '/'),
    field('Entrypoint', JSON.stringify(c.Entrypoint ?? null)),
    field('Cmd', JSON.stringify(c.Cmd ?? null)),
    field('Healthcheck', healthcheckText(c.Healthcheck)),
    listField('Env', c.Env ?? []),
    field('Ports', Object.keys(c.ExposedPorts ?? {}).join(' ') || '-'),
    ...(c.Volumes && Object.keys(c.Volumes).length
      ? [field('Volumes', Object.keys(c.Volumes).join(' '))]
      : []),
    listField(
      'Labels',
      Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`),
    ),
    ...(c.StopSignal ? [field('StopSignal', c.StopSignal)] : []),
  ];
}

/**
 * A HEALTHCHECK as a Dockerfile would write it, options first:
 * `--interval=30s --timeout=3s --retries=3 CMD ["wget","-qO-","http://127.0.0.1:3000/health"]`;
 * `NONE (disabled)`; `-` when the image has none.
 */
export function healthcheckText(health: HealthConfig | undefined): string {
  const test = health?.Test ?? [];
  if (health === undefined || test.length === 0) return '-';
  if (test[0] === 'NONE') return 'NONE (disabled)';
  const options = [
    ['interval', health.Interval],
    ['timeout', health.Timeout],
    ['start-period', health.StartPeriod],
    ['start-interval', health.StartInterval],
  ]
    .filter((o): o is [string, number] => typeof o[1] === 'number' && o[1] > 0)
    .map(([name, ns]) => `--${name}=${duration(ns)}`);
  if (health.Retries) options.push(`--retries=${health.Retries}`);
  const command =
    test[0] === 'CMD-SHELL' ? `CMD ${test.slice(1).join(' ')}` : `CMD ${JSON.stringify(test.slice(1))}`;
  return [...options, command].join(' ');
}

/** Nanoseconds as Go (and docker) print a duration: `30s`, `1m30s`, `1h0m0s`, `500ms`. */
function duration(ns: number): string {
  if (ns < 1e9) return `${ns / 1e6}ms`;
  const seconds = ns / 1e9;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Number((seconds % 60).toFixed(3));
  return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}
