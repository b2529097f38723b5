#!/usr/bin/env node
import { reexecInUserNamespace } from './userns.js';
import { version } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // Answered before the program (and with it @wharf/core) loads.
  process.stdout.write(`${version}\n`);
} else {
  // Not root, with subordinate ids: run again in a user namespace (see userns.ts); the program loads there.
  const inNamespace = reexecInUserNamespace(args);
  if (inNamespace) process.exitCode = await inNamespace;
  else {
    const { run } = await import('./program.js');
    process.exitCode = await run(args);
  }
}
