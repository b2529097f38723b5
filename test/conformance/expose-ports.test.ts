import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePortSpec, parsePortSpecs } from '../../packages/core/src/dockerfile/parse/ports.js';
import { peerSuite } from './peer-suites.js';

const file = peerSuite('buildkit-parser', 'extracted', 'expose-ports.json');

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
});
