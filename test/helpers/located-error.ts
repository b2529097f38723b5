// A CLI failure on bad Dockerfile input: exit 1 and one `wharf: <file>:<line>:<col>: message` line, no stack.
import { expect } from 'vitest';
import type { CliResult } from './cli.js';

export function expectLocatedError(result: CliResult, file: string): void {
  expect(result.code).toBe(1);
  const first = result.stderr.split('\n')[0] ?? '';
  expect(first).toMatch(new RegExp(`^wharf: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: \\S`));
  expect(result.stderr).not.toMatch(/\n\s+at /);
}
