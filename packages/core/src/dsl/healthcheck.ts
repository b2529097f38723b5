/**
 * An HTTP health check that works with whatever the image has: `wget` (busybox, Alpine), `curl`,
 * `node` or `python3` (the slim Python images have none of the others), picked when the check runs
 * (the DSL does no I/O, so it cannot look inside the base).
 *
 * @example stage('app').from('node:20-alpine').expose(3000).healthcheck(http(3000, '/health'), { interval: '30s' })
 */
import { WharfError } from '../errors.js';
import { checkOptions, optionNames } from './usage.js';
import { type ShellForm, sh } from './values.js';

export interface HttpCheckOptions {
  /** Default `127.0.0.1` (inside the container). */
  readonly host?: string;
}

// Characters a URL path needs, and none the shell would read inside double quotes ($ ` " \ !).
const PATH = /^\/[A-Za-z0-9._~/?&=%:+,@-]*$/;
const HOST = /^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:]+\]$/;

/**
 * A HEALTHCHECK test that GETs `http://<host>:<port><path>` and fails on an error status or no answer.
 * Needs `/bin/sh` in the image, and one of wget, curl, node or python3 (tried in that order when the check
 * runs).
 * @example stage('app').from('node:20-alpine').expose(3000).healthcheck(http(3000, '/health'), { interval: '30s' })
 */
export function http(port: number, path = '/', options: HttpCheckOptions = {}): ShellForm {
  checkOptions('http()', options, optionNames<HttpCheckOptions>({ host: true }));
  const host = options.host ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new WharfError('DSL_BAD_HEALTHCHECK', `http(): ${port} is not a port`, {
      hint: 'give 1–65535, e.g. http(3000, "/health")',
    });
  }
  if (!PATH.test(path)) {
    throw new WharfError('DSL_BAD_HEALTHCHECK', `http(): "${path}" is not a URL path it can use`, {
      hint: 'start with / and use URL characters only (percent-encode the rest)',
    });
  }
  if (!HOST.test(host)) {
    throw new WharfError('DSL_BAD_HEALTHCHECK', `http(): "${host}" is not a host name or address`, {
      hint: 'e.g. 127.0.0.1, localhost or [::1]',
    });
  }
  const url = `http://${host}:${port}${path}`;
  const node = `require('http').get('${url}',r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))`;
  // urlopen raises on an error status or no answer, and an uncaught exception exits 1
  const python = `import urllib.request as u; u.urlopen('${url}', timeout=10)`;
  return sh(
    `if command -v wget >/dev/null 2>&1; then wget -q -O /dev/null "${url}"; ` +
      `elif command -v curl >/dev/null 2>&1; then curl -fsS -o /dev/null "${url}"; ` +
      `elif command -v node >/dev/null 2>&1; then node -e "${node}"; ` +
      `else python3 -c "${python}" 2>/dev/null; fi || exit 1`,
  );
}
