import type * as oci from '@wharf/core/oci';
import { describe, expect, it } from 'vitest';
import { configLines, healthcheckText } from './image-config.js';

describe('healthcheckText', () => {
  it('writes a HEALTHCHECK as a Dockerfile would, durations as docker prints them', () => {
    expect(
      healthcheckText({
        Test: ['CMD', 'wget', '-qO-', 'http://127.0.0.1:3000/health'],
        Interval: 30e9,
        Timeout: 3e9,
        StartPeriod: 90e9,
        StartInterval: 500e6,
        Retries: 3,
      }),
    ).toBe(
      '--interval=30s --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 CMD ["wget","-qO-","http://127.0.0.1:3000/health"]',
    );
    expect(healthcheckText({ Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'] })).toBe(
      'CMD curl -f http://localhost/ || exit 1',
    );
    expect(healthcheckText({ Test: ['NONE'] })).toBe('NONE (disabled)');
    expect(healthcheckText(undefined)).toBe('-');
  });
});

describe('configLines', () => {
  it('shows every field, lists one item a line under the label', () => {
    const config: oci.ImageConfig = {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
      config: {
        User: 'node',
        Env: ['A=1', 'B=2'],
        Healthcheck: { Test: ['CMD', 'true'], Interval: 3600e9 },
        ExposedPorts: { '3000/tcp': {} },
      },
    };
    expect(configLines(config)).toEqual([
      'User:         node',
      'WorkingDir:   /',
      'Entrypoint:   null',
      'Cmd:          null',
      'Healthcheck:  --interval=1h0m0s CMD ["true"]',
      'Env:          A=1\n              B=2',
      'Ports:        3000/tcp',
      'Labels:       -',
    ]);
  });
});
