import { describe, expect, it } from 'vitest';
import { login } from './login.js';

describe('login', () => {
  it('takes the registry from a URL without its user:password part (nothing secret in the error)', async () => {
    const error = await login('http://me:login-pw-1234@127.0.0.1:1/', 'me', 'other-pw-5678', {
      retry: { attempts: 1 },
      configFile: false,
      env: {},
      dryRun: true,
    }).catch((e: Error) => e);
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect((error as Error).message).not.toContain('login-pw-1234');
    expect((error as Error).message).not.toContain('me:');
  });
});
