import { createRequire } from 'node:module';

/** Set by scripts/bundle.mjs in the bundled CLI, so it needs no package.json read. */
declare const WHARF_CLI_VERSION: string | undefined;

/** The CLI's version, from its package.json. */
export const version: string =
  typeof WHARF_CLI_VERSION === 'string'
    ? WHARF_CLI_VERSION
    : (createRequire(import.meta.url)('../package.json') as { version: string }).version;
