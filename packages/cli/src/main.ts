#!/usr/bin/env node
import { reexecInUserNamespace } from './userns.js';

const args = process.argv.slice(2);
// Not root, with subordinate ids: run again in a user namespace (see userns.ts); the program loads there.
const inNamespace = reexecInUserNamespace(args);
if (inNamespace) process.exitCode = await inNamespace;
else {
  const { run } = await import('./program.js');
  process.exitCode = await run(args);
}
