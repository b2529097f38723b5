// A throwaway CA and a 127.0.0.1 server certificate, made with the openssl CLI (no npm dependency),
// for TLS registries: startRegistry({ tls: { certFile, keyFile } }); clients trust `caFile`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';

export interface TestCA {
  /** PEM CA certificate to trust (e.g. NODE_EXTRA_CA_CERTS, skopeo --cert-dir, undici `ca`). */
  caFile: string;
  /** PEM server certificate for 127.0.0.1 / localhost, signed by the CA. */
  certFile: string;
  keyFile: string;
}

export async function makeSelfSignedCA(dir: string): Promise<TestCA> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=wharf test CA',
  ]);
  await run('openssl', [
    'req',
    ...ec,
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const sign = ['x509', '-req', '-days', '2', '-CAcreateserial', '-extfile', f('server.ext')];
  await run('openssl', [
    ...sign,
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-out',
    f('server.crt'),
  ]);
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}
