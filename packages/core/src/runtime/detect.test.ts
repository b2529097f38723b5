import { describe, expect, it } from 'vitest';
import { findRuntime, parseVersion } from './detect.js';

describe('findRuntime', () => {
  it('fails before any work on a non-Linux OS, naming the ways out', async () => {
    const error = await findRuntime({ platform: 'darwin', env: {} }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'RUNTIME_UNAVAILABLE' });
    expect((error as { hint: string }).hint).toContain('--backend docker');
  });

  it('WHARF_RUNTIME must name an executable', async () => {
    const error = await findRuntime({ platform: 'linux', env: { WHARF_RUNTIME: '/nonexistent/runc' } }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'RUNTIME_UNAVAILABLE' });
    expect((error as { hint: string }).hint).toMatch(/install runc or crun.*--backend docker/);
  });

  it('reads versions as runc and crun print them', () => {
    expect(parseVersion('runc version 1.1.5+ds1\ncommit: 1.1.5\nspec: 1.0.2-dev\n')).toBe('1.1.5+ds1');
    expect(parseVersion('crun version 1.8.1\ncommit: abc\n')).toBe('1.8.1');
    expect(parseVersion('???')).toBe('unknown');
  });
});
