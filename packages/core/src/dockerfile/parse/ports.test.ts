import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePortSpec, parsePortSpecs } from './ports.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const file = join(
  repoRoot,
  '..',
  'shared',
  'peer-suites',
  'buildkit-parser',
  'extracted',
  'expose-ports.json',
);

interface ExposePorts {
  parsePort: { spec: string; ports?: string[]; error?: string }[];
  parsePorts: { specs: string[]; ports?: string[]; error?: string }[];
}
const spec = JSON.parse(readFileSync(file, 'utf8')) as ExposePorts;

describe('EXPOSE port specs (extracted/expose-ports.json)', () => {
  it.each(spec.parsePort)('parsePortSpec($spec)', (c) => {
    if (c.error !== undefined) expect(() => parsePortSpec(c.spec)).toThrow(c.error);
    else expect(parsePortSpec(c.spec)).toEqual(c.ports);
  });
  it.each(spec.parsePorts)('parsePortSpecs($specs)', (c) => {
    if (c.error !== undefined) expect(() => parsePortSpecs(c.specs)).toThrow();
    else expect(parsePortSpecs(c.specs)).toEqual(c.ports);
  });
  it('rejects bad protocols, ports and ranges', () => {
    expect(() => parsePortSpec('80/http')).toThrow('invalid port: "80/http": invalid proto: http');
    expect(() => parsePortSpec('65536')).toThrow('invalid containerPort: 65536');
    expect(() => parsePortSpec('90-80')).toThrow('invalid containerPort: 90-80');
    expect(() => parsePortSpec('1-2:3-5')).toThrow('invalid ranges specified');
    expect(parsePortSpec('8000-8001:80')).toEqual(['80/tcp']);
    expect(parsePortSpec('80/UDP')).toEqual(['80/udp']);
  });
});
