/**
 * EXPOSE port specs → image-config `ExposedPorts` keys, as BuildKit's `parsePortSpecs`:
 * `[ip:][hostPort:]containerPort[/proto]`, ranges expand to one key per port, proto defaults to tcp,
 * and the ip and host-port parts are validated then dropped.
 *
 * @example
 * parsePortSpecs(['80', '8000-8001/udp', '[::1]:53:53/udp']) // ['80/tcp', '8000/udp', '8001/udp', '53/udp']
 */
import { WharfError } from '../../errors.js';
import { goQuote } from './go-text.js';
import type { DockerfileParseErrorCode } from './parse-error.js';

/** The `port/proto` keys of one spec. Throws `DOCKERFILE_PORT`. */
export function parsePortSpec(spec: string): string[] {
  const fail = (reason: string): never => {
    throw new WharfError<DockerfileParseErrorCode>(
      'DOCKERFILE_PORT',
      `invalid port: ${goQuote(spec)}: ${reason}`,
      {
        hint: 'write EXPOSE <port>[/tcp|udp|sctp] or a range such as 8000-8010',
      },
    );
  };
  const [ipPart, hostPort, containerPart] = splitParts(spec);
  const slash = containerPart.indexOf('/');
  const port = slash < 0 ? containerPart : containerPart.slice(0, slash);
  if (port === '') return fail('no port specified');
  const proto = (
    slash < 0 || slash === containerPart.length - 1 ? 'tcp' : containerPart.slice(slash + 1)
  ).toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') return fail(`invalid proto: ${proto}`);

  let ip = ipPart;
  if (ip.startsWith('[')) {
    const close = ip.indexOf(']');
    if (close !== ip.length - 1) return fail(`invalid IP address ${ip}`);
    ip = ip.slice(1, -1);
  }
  if (ip !== '' && !isIP(ip)) return fail(`invalid IP address: ${ip}`);

  const range = parsePortRange(port);
  if (range === undefined) return fail(`invalid containerPort: ${port}`);
  const [start, end] = range;
  if (hostPort !== '') {
    const hostRange = parsePortRange(hostPort);
    if (hostRange === undefined) return fail(`invalid hostPort: ${hostPort}`);
    if (end - start !== hostRange[1] - hostRange[0] && end !== start) {
      return fail(`invalid ranges specified for container and host Ports: ${port} and ${hostPort}`);
    }
  }
  const keys: string[] = [];
  for (let p = start; p <= end; p++) keys.push(`${p}/${proto}`);
  return keys;
}

/** The keys of all specs, in order (duplicates kept). */
export function parsePortSpecs(specs: readonly string[]): string[] {
  return specs.flatMap(parsePortSpec);
}

function splitParts(spec: string): [ip: string, hostPort: string, containerPort: string] {
  const parts = spec.split(':');
  const n = parts.length;
  if (n === 1) return ['', '', parts[0] as string];
  if (n === 2) return ['', parts[0] as string, parts[1] as string];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2] as string, parts[n - 1] as string];
}

function parsePort(s: string): number | undefined {
  if (!/^[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffff ? n : undefined;
}

function parsePortRange(ports: string): [number, number] | undefined {
  const parts = ports.split('-');
  if (parts.length > 2) return undefined;
  const start = parsePort(parts[0] as string);
  const end = parts.length === 2 ? parsePort(parts[1] as string) : start;
  if (start === undefined || end === undefined || end < start) return undefined;
  return [start, end];
}

/** Go's `net.ParseIP` acceptance: dotted IPv4 (no leading zeros) or IPv6 (optionally IPv4-suffixed). */
function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

function isIPv6(s: string): boolean {
  let groups = 0;
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (lastColon >= 0 && text.slice(lastColon + 1).includes('.')) {
    if (!isIPv4(text.slice(lastColon + 1))) return false;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return false;
  for (const half of halves) {
    if (half === '') continue;
    for (const group of half.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false;
      groups++;
    }
  }
  return halves.length === 2 ? groups < 8 : groups === 8;
}
