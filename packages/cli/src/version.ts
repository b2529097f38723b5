import { createRequire } from 'node:module';

/** The CLI's version, from its package.json. */
export const version: string = (createRequire(import.meta.url)('../package.json') as { version: string })
  .version;
