/**
 * Finds the build definition's line that called a DSL method, so validation errors can point at it
 * (`build.ts:12:4: EXPOSE 70000 is not a port`). Reads the V8 stack; no I/O.
 */
import { fileURLToPath } from 'node:url';
import type { SourceLocation } from '../errors.js';

const dslDir = fileURLToPath(new URL('.', import.meta.url));
const framePattern = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?$/;

export function callSite(): SourceLocation | undefined {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const frame of stack) {
    const match = framePattern.exec(frame.trim());
    if (!match) continue;
    const [, rawFile = '', line = '0', column = '0'] = match;
    const file = rawFile.startsWith('file://') ? fileURLToPath(rawFile) : rawFile;
    const ownFrame = file.startsWith(dslDir) && !/\.test\.[cm]?[jt]s$/.test(file);
    if (ownFrame || file.startsWith('node:') || !file.includes('/')) continue;
    return { file, line: Number(line), column: Number(column) };
  }
  return undefined;
}
