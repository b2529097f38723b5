import { describe, expect, it } from 'vitest';
import { assertEntitled, parseEntitlement } from './entitlements.js';
import type { BuildGraph, RunInstruction } from './types.js';

const graph = (run: Partial<RunInstruction>): BuildGraph =>
  ({
    args: [],
    context: { dir: '.' },
    stages: [
      {
        name: 'app',
        base: { kind: 'scratch' },
        instructions: [{ kind: 'run', command: { form: 'shell', script: 'true' }, ...run }],
      },
    ],
  }) as unknown as BuildGraph;

describe('entitlements', () => {
  it('RUN --network=host and --security=insecure need their entitlement, named with the flag that grants it', () => {
    expect(() => assertEntitled(graph({ network: 'host' }))).toThrow(
      /stage "app", RUN \(instruction 1\): --network=host needs the network\.host entitlement/,
    );
    expect(() => assertEntitled(graph({ security: 'insecure' }), ['network.host'])).toThrow(
      /--security=insecure needs the security\.insecure entitlement/,
    );
    try {
      assertEntitled(graph({ network: 'host' }));
    } catch (error) {
      expect(error).toMatchObject({
        code: 'IR_NOT_ENTITLED',
        hint: expect.stringMatching(/--allow network\.host/),
      });
    }
  });

  it('granted, or not asked for: no error', () => {
    expect(() => assertEntitled(graph({ network: 'host' }), ['network.host'])).not.toThrow();
    expect(() => assertEntitled(graph({ security: 'insecure' }), ['security.insecure'])).not.toThrow();
    expect(() => assertEntitled(graph({ network: 'none', security: 'sandbox' }))).not.toThrow();
  });

  it('parseEntitlement accepts buildx’s names only', () => {
    expect(parseEntitlement('network.host')).toBe('network.host');
    expect(() => parseEntitlement('device')).toThrow(/unknown entitlement "device"/);
  });
});
