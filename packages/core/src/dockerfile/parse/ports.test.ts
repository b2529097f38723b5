import { describe, expect, it } from 'vitest';
import { parsePortSpec } from './ports.js';

// BuildKit's EXPOSE tables are in the conformance project (test/conformance/expose-ports.test.ts).
describe('EXPOSE port specs', () => {
  it('rejects bad protocols, ports and ranges', () => {
    expect(() => parsePortSpec('80/http')).toThrow('invalid port: "80/http": invalid proto: http');
    expect(() => parsePortSpec('65536')).toThrow('invalid containerPort: 65536');
    expect(() => parsePortSpec('90-80')).toThrow('invalid containerPort: 90-80');
    expect(() => parsePortSpec('1-2:3-5')).toThrow('invalid ranges specified');
    expect(parsePortSpec('8000-8001:80')).toEqual(['80/tcp']);
    expect(parsePortSpec('80/UDP')).toEqual(['80/udp']);
  });
});
