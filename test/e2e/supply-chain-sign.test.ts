// Sigstore signatures of pushed images, against the real docker-registry (no referrers API: the
// sha256-<hex> tag fallback is what holds the list). Keys are made with openssl, and each DSSE signature
// is checked with `openssl dgst -verify` over the PAE bytes, independently of wharf and sigstore-js.
// Keyless signing runs against @sigstore/mock's Fulcio and Rekor served on loopback; `wharf verify`
// checks it with the mock's trust root. Each way verification must fail is one clear line, exit 1.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../packages/core/src/build.js';
import { stage } from '../../packages/core/src/dsl/index.js';
import { appendLayers, indexOfImages } from '../../packages/core/src/image/index.js';
import { writeLayout } from '../../packages/core/src/layout/index.js';
import {
  type Descriptor,
  type Digest,
  encodeDocument,
  MediaType,
} from '../../packages/core/src/oci/index.js';
import { pushImage, RegistryClient } from '../../packages/core/src/registry/index.js';
import {
  attachArtifact,
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE,
  fetchArtifact,
  listReferrers,
  referrersTag,
  verifyImage,
} from '../../packages/core/src/sign/index.js';
import { fileLayer, randomImage } from '../../packages/core/src/testing/index.js';
import { wharfAsync } from '../helpers/cli.js';
import { noDocker } from '../helpers/env.js';
import { openssl, opensslVerifiesDsse, p256KeyPair } from '../helpers/keys.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { type SigstoreMock, startSigstoreMock, unsignedToken } from '../helpers/sigstore-mock.js';

interface Bundle {
  mediaType: string;
  verificationMaterial: {
    publicKey?: { hint: string };
    certificate?: { rawBytes: string };
    tlogEntries: unknown[];
    timestampVerificationData?: { rfc3161Timestamps: unknown[] };
  };
  dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string }[] };
}

/** Bundles attached to `digest`, read back as a client would (tag fallback) and parsed. */
async function bundlesOf(registry: Registry, repositoryName: string, digest: Digest) {
  const client = new RegistryClient(registry.host);
  try {
    const repository = client.repository(repositoryName, 'pull');
    const found = await listReferrers(repository, digest, BUNDLE_MEDIA_TYPE);
    const out: { descriptor: Descriptor; bytes: Uint8Array; bundle: Bundle }[] = [];
    for (const descriptor of found) {
      const [blob] = await fetchArtifact(repository, descriptor);
      const bytes = blob?.bytes ?? new Uint8Array();
      out.push({ descriptor, bytes, bundle: JSON.parse(Buffer.from(bytes).toString()) });
    }
    return out;
  } finally {
    await client.close();
  }
}

/** Pushes a small random image (plus a file layer) to `reference`; returns its digest and descriptor. */
async function pushRandom(reference: string, seed: string) {
  const image = appendLayers(await randomImage(1), await fileLayer({ 'seed.txt': seed }));
  const pushed = await pushImage(image, reference);
  const subject: Descriptor = {
    mediaType: pushed.mediaType,
    digest: pushed.digest,
    size: (await image.rawManifest()).byteLength,
  };
  return { image, digest: pushed.digest, subject };
}

/** Replaces the referrers tag of `subject` with an index listing only `manifests`. */
async function setReferrers(
  registry: Registry,
  repositoryName: string,
  subject: Digest,
  manifests: Descriptor[],
) {
  const client = new RegistryClient(registry.host);
  try {
    const repository = client.repository(repositoryName, 'pull,push');
    const index = encodeDocument(MediaType.ociIndex, {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests,
    });
    await repository.commitManifest(referrersTag(subject), index.bytes, MediaType.ociIndex);
  } finally {
    await client.close();
  }
}

const firstLine = (text: string) => text.split('\n')[0] ?? '';

/** `wharf build` of `context`'s Dockerfile pushed to `ref` (lint off, quiet, a fresh cache), plus `extra`. */
function pushBuild(context: string, ref: string, ...extra: string[]): string[] {
  const cacheDir = tempDir('wharf-sign-cache-');
  return [
    'build',
    '-f',
    join(context, 'Dockerfile'),
    context,
    '--push',
    '-t',
    ref,
    ...extra,
    '--lint',
    'off',
  ].concat(['--cache-dir', cacheDir, '--progress', 'quiet']);
}

describe.skipIf(noDocker())('supply chain: Sigstore signatures with a key', () => {
  let registry: Registry;
  let dir: string;
  let keys: ReturnType<typeof p256KeyPair>;
  let other: ReturnType<typeof p256KeyPair>;
  beforeAll(async () => {
    registry = await startRegistry();
    dir = tempDir('wharf-sign-');
    keys = p256KeyPair(dir, 'cosign');
    other = p256KeyPair(dir, 'other');
  });
  afterAll(() => registry?.stop());

  it('build --push --sbom --provenance --sign key=: verify passes; openssl verifies each DSSE over PAE', async () => {
    const context = join(dir, 'ctx');
    mkdirSync(join(context, 'app/node_modules/ms'), { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY app /app\n');
    writeFileSync(
      join(context, 'app/node_modules/ms/package.json'),
      JSON.stringify({ name: 'ms', version: '2.1.3' }),
    );
    const ref = `${registry.host}/wharf/signed:1`;
    const built = await wharfAsync(
      pushBuild(context, ref, '--sbom', '--provenance', '--sign', `key=${keys.sec1}`),
    );
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const digest = built.stdout.trim() as Digest;

    // no referrers API on docker-registry 2.8: the fallback tag lists the bundles
    expect((await fetch(`${registry.url}/v2/wharf/signed/referrers/${digest}`)).status).toBe(404);
    const tag = await fetch(`${registry.url}/v2/wharf/signed/manifests/${referrersTag(digest)}`, {
      headers: { accept: MediaType.ociIndex },
    });
    expect(tag.status).toBe(200);
    const index = (await tag.json()) as {
      manifests: { artifactType: string; annotations?: Record<string, string> }[];
    };
    const bundleEntries = index.manifests.filter((m) => m.artifactType === BUNDLE_MEDIA_TYPE);
    expect(bundleEntries.map((m) => m.annotations?.['dev.sigstore.bundle.predicateType']).sort()).toEqual([
      'https://sigstore.dev/cosign/sign/v1',
      'https://slsa.dev/provenance/v1',
      'https://spdx.dev/Document',
    ]);
    for (const entry of bundleEntries) {
      expect(entry.annotations?.['dev.sigstore.bundle.content']).toBe('dsse-envelope');
    }

    const verified = await wharfAsync(['verify', ref, '--key', keys.pub]);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`verified ${digest}: signature`);
    expect(verified.stdout).toContain('verified attestation https://slsa.dev/provenance/v1');
    expect(verified.stdout).toContain('verified attestation https://spdx.dev/Document');

    const listed = await wharfAsync(['attestations', ref, '-q']);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines).toHaveLength(5); // SPDX + provenance (unsigned, for wharf sbom) + 3 bundles
    expect(lines.filter((l) => l.includes(BUNDLE_MEDIA_TYPE))).toHaveLength(3);

    const bundles = await bundlesOf(registry, 'wharf/signed', digest);
    expect(bundles).toHaveLength(3);
    for (const { bundle } of bundles) {
      expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
      expect(bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
      expect(statement._type).toBe('https://in-toto.io/Statement/v1');
      expect(statement.subject).toEqual([
        { name: `${registry.host}/wharf/signed`, digest: { sha256: digest.slice(7) } },
      ]);
      expect(opensslVerifiesDsse(bundle, keys.pub, dir)).toBe('Verified OK');
      expect(opensslVerifiesDsse(bundle, other.pub, dir)).toBe('Verification failure');
    }
  });

  it('wharf push --sign key= (PKCS#8) signs what it pushed; wharf sign signs an existing tag', async () => {
    const image = appendLayers(await randomImage(1), await fileLayer({ 'a.txt': 'push' }));
    const layout = join(dir, 'layout');
    await writeLayout(layout, image);
    const ref = `${registry.host}/wharf/pushed:1`;
    const pushed = await wharfAsync(['push', layout, ref, '--sign', `key=${keys.pkcs8}`, '-q']);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    expect(pushed.stdout.trim()).toBe(`${ref}@${await image.digest()}`);
    expect((await wharfAsync(['verify', ref, '--key', keys.pub])).code).toBe(0);

    const { digest } = await pushRandom(`${registry.host}/wharf/later:1`, 'later');
    const signed = await wharfAsync(['sign', `${registry.host}/wharf/later:1`, '--key', keys.sec1, '-q']);
    expect(signed.stderr).toBe('');
    expect(signed.stdout.trim()).toBe(digest);
    const verified = await wharfAsync([
      'verify',
      `${registry.host}/wharf/later@${digest}`,
      '--key',
      keys.pub,
    ]);
    expect(verified.code).toBe(0);
    const [only] = await bundlesOf(registry, 'wharf/later', digest);
    expect(only && opensslVerifiesDsse(only.bundle, keys.pub, dir)).toBe('Verified OK');
  });

  it('wharf push --sign of a multi-platform layout signs the index digest', async () => {
    const amd64 = await randomImage(1, { platform: { os: 'linux', architecture: 'amd64' } });
    const arm64 = await randomImage(1, { platform: { os: 'linux', architecture: 'arm64' } });
    const index = indexOfImages([amd64, arm64]);
    const layout = join(dir, 'index-layout');
    await writeLayout(layout, { index });
    const ref = `${registry.host}/wharf/multi:1`;
    const pushed = await wharfAsync(['push', layout, ref, '--sign', `key=${keys.sec1}`, '-q']);
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const digest = await index.digest();
    expect(pushed.stdout.trim()).toBe(`${ref}@${digest}`);
    const verified = await wharfAsync(['verify', ref, '--key', keys.pub]);
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toContain(`verified ${digest}: signature`);
    const [only] = await bundlesOf(registry, 'wharf/multi', digest);
    expect(only && opensslVerifiesDsse(only.bundle, keys.pub, dir)).toBe('Verified OK');
  });

  it('fails with one line, exit 1: missing signature, wrong key, tampered bundle, retagged image', async () => {
    const repo = 'wharf/attacked';
    // missing signature
    const unsigned = await pushRandom(`${registry.host}/${repo}:unsigned`, 'unsigned');
    const missing = await wharfAsync(['verify', `${registry.host}/${repo}:unsigned`, '--key', keys.pub]);
    expect(missing.code).toBe(1);
    expect(firstLine(missing.stderr)).toBe(
      `wharf: no signature is attached to ${registry.host}/${repo}:unsigned (${unsigned.digest})`,
    );

    // wrong key
    const signed = await pushRandom(`${registry.host}/${repo}:signed`, 'signed');
    expect(
      (await wharfAsync(['sign', `${registry.host}/${repo}:signed`, '--key', keys.sec1, '-q'])).code,
    ).toBe(0);
    const wrong = await wharfAsync(['verify', `${registry.host}/${repo}:signed`, '--key', other.pub]);
    expect(wrong.code).toBe(1);
    expect(firstLine(wrong.stderr)).toMatch(
      /^wharf: \S+:signed \(sha256:[0-9a-f]{64}\) failed verification: it was signed by another key \(keyid \S+\)$/,
    );

    // tampered: the statement inside the bundle is changed (and the artifact re-pushed consistently)
    const victim = await pushRandom(`${registry.host}/${repo}:tampered`, 'tampered');
    expect(
      (await wharfAsync(['sign', `${registry.host}/${repo}:tampered`, '--key', keys.sec1, '-q'])).code,
    ).toBe(0);
    const [original] = await bundlesOf(registry, repo, victim.digest);
    if (!original) throw new Error('no bundle was attached');
    const statement = JSON.parse(Buffer.from(original.bundle.dsseEnvelope.payload, 'base64').toString());
    statement.predicate = { note: 'added after signing' };
    const forged = {
      ...original.bundle,
      dsseEnvelope: {
        ...original.bundle.dsseEnvelope,
        payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
      },
    };
    const client = new RegistryClient(registry.host);
    let forgedDescriptor: Descriptor;
    try {
      const repository = client.repository(repo, 'pull,push');
      forgedDescriptor = await attachArtifact(repository, victim.subject, {
        artifactType: BUNDLE_MEDIA_TYPE,
        blobs: [{ mediaType: BUNDLE_MEDIA_TYPE, bytes: Buffer.from(JSON.stringify(forged)) }],
        annotations: { 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE },
      });
    } finally {
      await client.close();
    }
    await setReferrers(registry, repo, victim.digest, [forgedDescriptor]);
    const tampered = await wharfAsync(['verify', `${registry.host}/${repo}:tampered`, '--key', keys.pub]);
    expect(tampered.code).toBe(1);
    expect(firstLine(tampered.stderr)).toMatch(
      /failed verification: the signature does not match the signed content \(altered after signing\)$/,
    );

    // retagged: the tag now names another image, and the old signature was copied onto it
    const retagged = await pushRandom(`${registry.host}/${repo}:signed`, 'replacement');
    const copy = await bundlesOf(registry, repo, signed.digest);
    const client2 = new RegistryClient(registry.host);
    try {
      const repository = client2.repository(repo, 'pull,push');
      await attachArtifact(repository, retagged.subject, {
        artifactType: BUNDLE_MEDIA_TYPE,
        blobs: [{ mediaType: BUNDLE_MEDIA_TYPE, bytes: copy[0]?.bytes ?? new Uint8Array() }],
        annotations: { 'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE },
      });
    } finally {
      await client2.close();
    }
    const moved = await wharfAsync(['verify', `${registry.host}/${repo}:signed`, '--key', keys.pub]);
    expect(moved.code).toBe(1);
    expect(firstLine(moved.stderr)).toBe(
      `wharf: ${registry.host}/${repo}:signed (${retagged.digest}) failed verification: it signs ${signed.digest}, not ${retagged.digest}`,
    );
    expect(moved.stderr).toContain('retagged');

    // what a bundle says is quoted printable: a terminal escape in its key hint is not passed through
    const hostile = await pushRandom(`${registry.host}/${repo}:hostile`, 'hostile');
    const escaped = {
      ...original.bundle,
      verificationMaterial: { ...original.bundle.verificationMaterial, publicKey: { hint: '\u001b[2Jx' } },
    };
    const client3 = new RegistryClient(registry.host);
    try {
      await attachArtifact(client3.repository(repo, 'pull,push'), hostile.subject, {
        artifactType: BUNDLE_MEDIA_TYPE,
        blobs: [{ mediaType: BUNDLE_MEDIA_TYPE, bytes: Buffer.from(JSON.stringify(escaped)) }],
      });
    } finally {
      await client3.close();
    }
    const quoted = await wharfAsync(['verify', `${registry.host}/${repo}:hostile`, '--key', keys.pub]);
    expect(quoted.code).toBe(1);
    expect(quoted.stderr).not.toContain('\u001b');
    expect(firstLine(quoted.stderr)).toMatch(/it was signed by another key \(keyid +\[2Jx\)$/);
  });

  it('build({ sign }) signs from a script; verifyImage() lists the verified signature', async () => {
    const work = tempDir('wharf-sign-api-');
    writeFileSync(join(work, 'a.txt'), 'api');
    const app = stage('app').from('scratch').copy('a.txt', '/a.txt');
    const { digest } = await build(app, {
      contextDir: work,
      cacheDir: join(work, 'cache'),
      output: 'type=registry',
      tags: [`${registry.host}/wharf/api-signed:1`],
      provenance: true,
      sign: { kind: 'key', keyFile: keys.pkcs8 },
    });
    const result = await verifyImage(`${registry.host}/wharf/api-signed:1`, {
      policy: { kind: 'key', keyFile: keys.pub },
    });
    expect(result.digest).toBe(digest);
    expect(result.signatures).toHaveLength(1);
    expect(result.attestations.map((a) => a.predicateType)).toEqual(['https://slsa.dev/provenance/v1']);
    expect(result.rejected).toEqual([]);
    const wrong = await verifyImage(`${registry.host}/wharf/api-signed:1`, {
      policy: { kind: 'key', keyFile: other.pub },
    }).catch((e: unknown) => e);
    expect((wrong as { code?: string }).code).toBe('SIGN_WRONG_KEY');
  });

  it('bad flags and keys fail before signing with one line', async () => {
    const rsa = join(dir, 'rsa.key');
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', rsa);
    const wrongKind = await wharfAsync(['sign', `${registry.host}/wharf/x:1`, '--key', rsa]);
    expect(wrongKind.code).toBe(1);
    expect(firstLine(wrongKind.stderr)).toBe(
      `wharf: signing key ${rsa} is a rsa key; wharf signs with ECDSA P-256`,
    );
    const neither = await wharfAsync(['verify', `${registry.host}/wharf/x:1`]);
    expect(neither.code).toBe(2);
    expect(firstLine(neither.stderr)).toContain('wharf verify needs --key PUB');
    const badBuild = await wharfAsync([
      'build',
      '-f',
      join(dir, 'none'),
      '--push',
      '-t',
      `${registry.host}/wharf/x:1`,
      '--sign',
      `key=${rsa}`,
    ]);
    expect(badBuild.code).toBe(1);
    expect(firstLine(badBuild.stderr)).toBe(
      `wharf: signing key ${rsa} is a rsa key; wharf signs with ECDSA P-256`,
    );
    const badSpec = await wharfAsync(['push', dir, `${registry.host}/wharf/x:1`, '--sign', 'cert=x']);
    expect(badSpec.code).toBe(2);
    expect(firstLine(badSpec.stderr)).toBe('wharf: --sign cert=x: say key=FILE or keyless');
  });
});

describe.skipIf(noDocker())('supply chain: keyless signing against mock Fulcio and Rekor', () => {
  let registry: Registry;
  let sigstore: SigstoreMock;
  beforeAll(async () => {
    registry = await startRegistry();
    sigstore = await startSigstoreMock(tempDir('wharf-sigstore-'));
  });
  afterAll(async () => {
    await sigstore?.close();
    registry?.stop();
  });

  it('signs with a Fulcio certificate, a Rekor entry and a TSA timestamp; verify checks the identity under the trust root', async () => {
    const identity = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
    const issuer = 'https://token.actions.githubusercontent.com';
    const ref = `${registry.host}/wharf/keyless:1`;
    const { digest } = await pushRandom(ref, 'keyless');
    const env = {
      SIGSTORE_ID_TOKEN: unsignedToken({ sub: identity, iss: issuer }),
      ACTIONS_ID_TOKEN_REQUEST_URL: '',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
    };
    const signed = await wharfAsync(
      [
        'sign',
        ref,
        '--keyless',
        '--fulcio-url',
        sigstore.fulcioUrl,
        '--rekor-url',
        sigstore.rekorUrl,
        '--tsa-url',
        sigstore.tsaUrl,
        '-q',
      ],
      { env },
    );
    expect(signed.stderr).toBe('');
    expect(signed.code).toBe(0);
    expect(signed.stdout.trim()).toBe(digest);

    const [attached] = await bundlesOf(registry, 'wharf/keyless', digest);
    if (!attached) throw new Error('no bundle was attached');
    expect(attached.bundle.verificationMaterial.certificate?.rawBytes).toBeTruthy();
    expect(attached.bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(attached.bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);

    const verify = (...extra: string[]) =>
      wharfAsync(['verify', ref, '--trusted-root', sigstore.trustedRoot, ...extra]);
    const ok = await verify('--certificate-identity', identity, '--certificate-oidc-issuer', issuer);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`verified ${digest}: signature`);
    expect(ok.stdout).toContain(`by ${identity} (${issuer})`);

    const someoneElse = await verify(
      '--certificate-identity',
      'https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main',
      '--certificate-oidc-issuer',
      issuer,
    );
    expect(someoneElse.code).toBe(1);
    expect(firstLine(someoneElse.stderr)).toMatch(
      /failed verification: certificate identity error - expected https:\/\/github.com\/evil\/.*, got https:\/\/github.com\/acme\//,
    );

    // build --push --provenance --sign keyless: one certificate for the image signature and the provenance
    const context = tempDir('wharf-keyless-build-');
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY . /app\n');
    const before = sigstore.certificatesIssued();
    const built = await wharfAsync(
      pushBuild(
        context,
        `${registry.host}/wharf/keyless-built:1`,
        '--provenance',
        '--sign',
        `keyless,fulcio=${sigstore.fulcioUrl},rekor=${sigstore.rekorUrl}`,
      ),
      { env },
    );
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(sigstore.certificatesIssued() - before).toBe(1);
    const builtVerified = await wharfAsync([
      'verify',
      `${registry.host}/wharf/keyless-built:1`,
      '--trusted-root',
      sigstore.trustedRoot,
      '--certificate-identity',
      identity,
      '--certificate-oidc-issuer',
      issuer,
    ]);
    expect(builtVerified.stderr).toBe('');
    expect(builtVerified.stdout).toContain(`verified attestation https://slsa.dev/provenance/v1`);
    expect(builtVerified.stdout).toContain(`by ${identity} (${issuer})`);

    const someKey = p256KeyPair(tempDir('wharf-keyless-key-'), 'k');
    const withKey = await wharfAsync(['verify', ref, '--key', someKey.pub]);
    expect(withKey.code).toBe(1);
    expect(firstLine(withKey.stderr)).toMatch(
      /failed verification: it was signed keylessly \(a certificate\), not with a key$/,
    );

    // openssl checks the DSSE signature with the Fulcio certificate's key
    const work = tempDir('wharf-keyless-openssl-');
    const certFile = join(work, 'cert.der');
    writeFileSync(
      certFile,
      Buffer.from(attached.bundle.verificationMaterial.certificate?.rawBytes ?? '', 'base64'),
    );
    const pub = join(work, 'cert.pub');
    writeFileSync(pub, openssl('x509', '-inform', 'DER', '-in', certFile, '-pubkey', '-noout'));
    expect(openssl('x509', '-inform', 'DER', '-in', certFile, '-noout', '-ext', 'subjectAltName')).toContain(
      identity,
    );
    expect(opensslVerifiesDsse(attached.bundle, pub, work)).toBe('Verified OK');
  });
  it('a key signature recorded in Rekor (--key with --rekor-url) verifies with --trusted-root, and says so without', async () => {
    const keys = p256KeyPair(tempDir('wharf-key-rekor-'), 'k');
    const ref = `${registry.host}/wharf/key-rekor:1`;
    const { digest } = await pushRandom(ref, 'key-rekor');
    const signed = await wharfAsync([
      'sign',
      ref,
      '--key',
      keys.sec1,
      '--rekor-url',
      sigstore.rekorUrl,
      '-q',
    ]);
    expect(signed.stderr).toBe('');
    expect(signed.code).toBe(0);
    const [attached] = await bundlesOf(registry, 'wharf/key-rekor', digest);
    expect(attached?.bundle.verificationMaterial.publicKey?.hint).toBeTruthy();
    expect(attached?.bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    const rooted = await wharfAsync([
      'verify',
      ref,
      '--key',
      keys.pub,
      '--trusted-root',
      sigstore.trustedRoot,
    ]);
    expect(rooted.stderr).toBe('');
    expect(rooted.code).toBe(0);
    expect(rooted.stdout).toContain(`verified ${digest}: signature`);
    const unrooted = await wharfAsync(['verify', ref, '--key', keys.pub]);
    expect(unrooted.code).toBe(1);
    expect(firstLine(unrooted.stderr)).toMatch(
      /failed verification: it is recorded in a transparency log, which only --trusted-root \(with that Rekor key\) can check$/,
    );
    // a key signature without a log entry does not pass where the root asks for one
    const plain = `${registry.host}/wharf/key-rekor:plain`;
    await pushRandom(plain, 'key-no-rekor');
    expect((await wharfAsync(['sign', plain, '--key', keys.sec1, '-q'])).code).toBe(0);
    const strict = await wharfAsync([
      'verify',
      plain,
      '--key',
      keys.pub,
      '--trusted-root',
      sigstore.trustedRoot,
    ]);
    expect(strict.code).toBe(1);
    expect(firstLine(strict.stderr)).toMatch(/failed verification: .*expected 1 .*got 0/);
  });
});
