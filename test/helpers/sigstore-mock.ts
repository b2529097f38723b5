/**
 * Local Sigstore services for keyless tests: @sigstore/mock's Fulcio (a CA with a CT log), Rekor and
 * timestamp authority handlers served over plain HTTP on 127.0.0.1 (the CLI runs as a child process,
 * so nock's in-process interception would not reach it), the trusted_root.json that trusts exactly them,
 * and an unsigned OIDC token (the mock reads claims without checking the token's signature).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  fulcioHandler,
  type HandlerFn,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
} from '@sigstore/mock';

export interface SigstoreMock {
  readonly fulcioUrl: string;
  readonly rekorUrl: string;
  /** An RFC 3161 timestamp authority. */
  readonly tsaUrl: string;
  /** A trusted_root.json trusting the mock CA, CT log and Rekor. */
  readonly trustedRoot: string;
  /** Certificates Fulcio has issued so far. */
  certificatesIssued(): number;
  close(): Promise<void>;
}

function serve(path: string, fn: () => HandlerFn | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== path) {
        res.writeHead(404).end();
        return;
      }
      const handle = fn();
      if (!handle) {
        res.writeHead(503).end();
        return;
      }
      handle(Buffer.concat(chunks).toString('utf8')).then(
        ({ statusCode, response, contentType }) => {
          res.writeHead(statusCode, { 'content-type': contentType ?? 'text/plain' });
          res.end(
            typeof response === 'string'
              ? response
              : Buffer.from(response.buffer, response.byteOffset, response.byteLength),
          );
        },
        (error: Error) => res.writeHead(500).end(error.message),
      );
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const ecKeyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Starts mock Fulcio and Rekor and writes their trusted root under `dir`. */
export async function startSigstoreMock(dir: string): Promise<SigstoreMock> {
  const ctlog = await initializeCTLog(ecKeyPair());
  const ca = await initializeCA(ecKeyPair(), ctlog);
  const fulcioFn = fulcioHandler(ca).fn;
  let issued = 0;
  const fulcio = await serve('/api/v2/signingCert', () => {
    issued++;
    return fulcioFn;
  });
  // the log names itself (host:port) in its checkpoints, and verifiers match that against the root's URL
  let rekorFn: HandlerFn | undefined;
  const rekor = await serve('/api/v1/log/entries', () => rekorFn);
  const tlog = await initializeTLog(urlOf(rekor), ecKeyPair());
  rekorFn = rekorHandler(tlog).fn;
  const tsaAuthority = await initializeTSA(ecKeyPair());
  // DER drops a GeneralizedTime's trailing zeros (12:00:00.120 → "…00.12Z"), and @sigstore/core's parser
  // takes only three fraction digits: a timestamp in such a millisecond failed verification with
  // "invalid time" (1 run in 10). Real TSAs (sigstore's timestamp-authority) stamp whole seconds.
  (tsaAuthority as unknown as { getCurrentTime: () => Date }).getCurrentTime = () =>
    new Date(Math.floor(Date.now() / 1000) * 1000);
  const tsaFn = tsaHandler(tsaAuthority).fn;
  const tsa = await serve('/api/v1/timestamp', () => tsaFn);
  const start = new Date(Date.now() - 60_000).toISOString();
  const b64 = (view: ArrayBufferView) =>
    Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: urlOf(rekor),
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: b64(tlog.publicKey),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start },
        },
        logId: { keyId: b64(createHash('sha256').update(tlog.publicKey).digest()) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: urlOf(fulcio),
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: 'http://ctlog.invalid',
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: b64(ctlog.publicKey),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start },
        },
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore-tsa' },
        uri: urlOf(tsa),
        certChain: {
          certificates: [
            { rawBytes: b64(tsaAuthority.intCertificate) },
            { rawBytes: b64(tsaAuthority.rootCertificate) },
          ],
        },
        validFor: { start },
      },
    ],
  };
  const trustedRoot = join(dir, 'trusted_root.json');
  writeFileSync(trustedRoot, JSON.stringify(root, null, 2));
  return {
    fulcioUrl: urlOf(fulcio),
    rekorUrl: urlOf(rekor),
    tsaUrl: urlOf(tsa),
    trustedRoot,
    certificatesIssued: () => issued,
    close: async () => {
      await Promise.all([fulcio, rekor, tsa].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

/** An unsigned JWT with these claims (`alg: none`): what the mock Fulcio accepts as an OIDC token. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ aud: 'sigstore', iat: now, exp: now + 600, ...claims })}.`;
}
