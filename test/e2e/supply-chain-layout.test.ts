// Attestations and signatures stored in `-o type=oci` layouts (as `oras attach --oci-layout` stores
// referrers: artifact manifests with `subject`, listed in index.json with their artifactType), read
// back by `wharf attestations|verify|sbom oci:DIR`, still readable by skopeo, and carried by `wharf push`
// to the real docker-registry. And a multi-platform build's index is signed beside each platform.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Digest, MediaType } from '../../packages/core/src/oci/index.js';
import { referrersTag, verifyImage } from '../../packages/core/src/sign/index.js';
import { wharfAsync } from '../helpers/cli.js';
import { noDocker } from '../helpers/env.js';
import { cosignKeyFile, opensslVerifiesDsse, p256KeyPair } from '../helpers/keys.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { skopeoInspect } from '../helpers/tools.js';

interface IndexJson {
  manifests: {
    digest: string;
    mediaType: string;
    artifactType?: string;
    annotations?: Record<string, string>;
  }[];
}

const firstLine = (text: string) => text.split('\n')[0] ?? '';

/** A context with a Dockerfile (`FROM scratch`, COPY of a node_modules package). */
function nodeContext(dir: string): string {
  const context = join(dir, 'ctx');
  mkdirSync(join(context, 'app/node_modules/ms'), { recursive: true });
  writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY app /app\n');
  writeFileSync(
    join(context, 'app/node_modules/ms/package.json'),
    JSON.stringify({ name: 'ms', version: '2.1.3', license: 'MIT' }),
  );
  return context;
}

function buildArgs(context: string, ...extra: string[]): string[] {
  return [
    'build',
    '-f',
    join(context, 'Dockerfile'),
    context,
    ...extra,
    '--lint',
    'off',
    '--cache-dir',
    tempDir('wharf-layout-sign-cache-'),
    '--progress',
    'quiet',
  ];
}

describe.skipIf(noDocker())('supply chain: referrers in OCI layouts, signed indexes', () => {
  let registry: Registry;
  let dir: string;
  let keys: ReturnType<typeof p256KeyPair>;
  let other: ReturnType<typeof p256KeyPair>;
  beforeAll(async () => {
    registry = await startRegistry();
    dir = tempDir('wharf-layout-sign-');
    keys = p256KeyPair(dir, 'cosign');
    other = p256KeyPair(dir, 'other');
  });
  afterAll(() => registry?.stop());

  it('-o type=oci --sbom --provenance --sign: the layout holds them; verify/attestations/sbom read it; push carries them', async () => {
    const context = nodeContext(dir);
    const layout = join(dir, 'layout');
    // signed with cosign's own encrypted key format, its password in COSIGN_PASSWORD
    const cosignKey = cosignKeyFile(keys.pkcs8, 'sesame');
    const built = await wharfAsync(
      buildArgs(
        context,
        '-o',
        `type=oci,dest=${layout}`,
        '-t',
        'app:1',
        '--sbom',
        '--provenance',
        '--sign',
        `key=${cosignKey}`,
      ),
      { env: { COSIGN_PASSWORD: 'sesame' } },
    );
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const digest = built.stdout.trim() as Digest;

    // index.json: the image entry (named) and five artifacts with artifactType, as oras lists them
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as IndexJson;
    const images = index.manifests.filter((m) => m.artifactType === undefined);
    expect(images.map((m) => m.digest)).toEqual([digest]);
    const artifacts = index.manifests.filter((m) => m.artifactType !== undefined);
    expect(artifacts.map((m) => m.artifactType).sort()).toEqual([
      'application/spdx+json',
      'application/vnd.dev.sigstore.bundle.v0.3+json',
      'application/vnd.dev.sigstore.bundle.v0.3+json',
      'application/vnd.dev.sigstore.bundle.v0.3+json',
      'application/vnd.in-toto+json',
    ]);
    for (const entry of artifacts) {
      const manifest = JSON.parse(
        readFileSync(join(layout, 'blobs/sha256', entry.digest.slice(7)), 'utf8'),
      ) as { subject: { digest: string }; artifactType: string };
      expect(manifest.subject.digest).toBe(digest);
      expect(manifest.artifactType).toBe(entry.artifactType);
      if (entry.artifactType === 'application/vnd.dev.sigstore.bundle.v0.3+json') {
        const layer = (manifest as unknown as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
        const bundle = readFileSync(join(layout, 'blobs/sha256', layer.slice(7)), 'utf8');
        expect(opensslVerifiesDsse(JSON.parse(bundle), keys.pub, dir)).toBe('Verified OK');
      }
    }
    // other tools still read the image by its name; the layout's readers skip the artifacts
    const inspected = await skopeoInspect(`oci:${layout}:1`, { raw: true });
    expect(inspected.layers).toHaveLength(1);

    const listed = await wharfAsync(['attestations', `oci:${layout}`, '-q']);
    expect(listed.stderr).toBe('');
    expect(listed.stdout.trim().split('\n')).toHaveLength(5);
    const verified = await wharfAsync(['verify', `oci:${layout}:1`, '--key', keys.pub]);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`verified ${digest}: signature`);
    expect(verified.stdout).toContain('verified attestation https://spdx.dev/Document');
    const wrong = await wharfAsync(['verify', `oci:${layout}`, '--key', other.pub]);
    expect(wrong.code).toBe(1);
    expect(firstLine(wrong.stderr)).toContain('failed verification: it was signed by another key');
    const sbom = await wharfAsync(['sbom', `oci:${layout}`]);
    expect(sbom.code).toBe(0);
    expect(JSON.parse(sbom.stdout).packages.map((p: { name: string }) => p.name)).toContain('ms');

    // wharf push DIR REF carries the referrers, bytes unchanged: the signatures verify at the registry
    const ref = `${registry.host}/wharf/from-layout:1`;
    const pushed = await wharfAsync(['push', layout, ref]);
    expect(pushed.code).toBe(0);
    expect(pushed.stderr).toContain('5 attached artifacts pushed with it');
    const tag = await fetch(`${registry.url}/v2/wharf/from-layout/manifests/${referrersTag(digest)}`, {
      headers: { accept: MediaType.ociIndex },
    });
    expect(((await tag.json()) as IndexJson).manifests.map((m) => m.digest).sort()).toEqual(
      artifacts.map((m) => m.digest).sort(),
    );
    const remote = await wharfAsync(['verify', ref, '--key', keys.pub]);
    expect(remote.stderr).toBe('');
    expect(remote.stdout).toContain('verified attestation https://slsa.dev/provenance/v1');
  });

  it('--platform a,b --push --sign: the index and each platform image are signed', async () => {
    const context = nodeContext(join(dir, 'multi'));
    const ref = `${registry.host}/wharf/multi-signed:1`;
    const built = await wharfAsync(
      buildArgs(
        context,
        '--platform',
        'linux/amd64,linux/arm64',
        '--push',
        '-t',
        ref,
        '--provenance',
        '--sign',
        `key=${keys.sec1}`,
      ),
    );
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const indexDigest = built.stdout.trim() as Digest;
    const index = (await (
      await fetch(`${registry.url}/v2/wharf/multi-signed/manifests/${indexDigest}`, {
        headers: { accept: MediaType.ociIndex },
      })
    ).json()) as IndexJson;
    const platforms = index.manifests.map((m) => m.digest);
    expect(platforms).toHaveLength(2);
    const verified = await wharfAsync(['verify', ref, '--key', keys.pub]);
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toContain(`verified ${indexDigest}: signature`);
    for (const digest of [indexDigest, ...platforms]) {
      const result = await verifyImage(`${registry.host}/wharf/multi-signed@${digest}`, {
        policy: { kind: 'key', keyFile: keys.pub },
      });
      expect(result.signatures).toHaveLength(1);
      expect(result.attestations.map((a) => a.predicateType)).toEqual(['https://slsa.dev/provenance/v1']);
    }
  });

  it('wharf bake --push --sign key=: every target is signed', async () => {
    const project = join(dir, 'bake');
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'a.txt'), 'a\n');
    writeFileSync(join(project, 'b.txt'), 'b\n');
    writeFileSync(
      join(project, 'build.ts'),
      [
        "import { define, stage } from '@wharf/core';",
        'export default define({',
        '  targets: {',
        `    a: { stage: stage('a').from('scratch').copy('a.txt', '/'), tags: ['${registry.host}/bake/a:1'] },`,
        `    b: { stage: stage('b').from('scratch').copy('b.txt', '/'), tags: ['${registry.host}/bake/b:1'] },`,
        '  },',
        '});',
        '',
      ].join('\n'),
    );
    const baked = await wharfAsync([
      'bake',
      join(project, 'build.ts'),
      '--push',
      '--sign',
      `key=${keys.sec1}`,
      '--progress',
      'quiet',
      '--cache-dir',
      tempDir('wharf-bake-sign-cache-'),
    ]);
    expect(baked.stderr).toBe('');
    expect(baked.code).toBe(0);
    for (const name of ['a', 'b']) {
      const result = await verifyImage(`${registry.host}/bake/${name}:1`, {
        policy: { kind: 'key', keyFile: keys.pub },
      });
      expect(result.signatures).toHaveLength(1);
    }
    // a bake that writes nowhere refuses the flags before any work
    const nowhere = await wharfAsync(['bake', join(project, 'build.ts'), '--sbom', '--progress', 'quiet']);
    expect(nowhere.code).toBe(1);
    expect(firstLine(nowhere.stderr)).toBe(
      'wharf: --sbom, --provenance and --sign apply to a pushed image or an OCI layout',
    );
  });
});

describe('supply chain: verify flags', () => {
  it('keyless verify without --trusted-root names the fix (no TUF fetch)', async () => {
    const result = await wharfAsync([
      'verify',
      'registry.example.com/app:1',
      '--certificate-identity',
      'https://github.com/org/app/.github/workflows/ci.yml@refs/heads/main',
      '--certificate-oidc-issuer',
      'https://token.actions.githubusercontent.com',
    ]);
    expect(result.code).toBe(2);
    expect(firstLine(result.stderr)).toBe(
      'wharf: keyless verification needs --trusted-root FILE: wharf does not fetch the Sigstore root (TUF) itself',
    );
    expect(result.stderr).toContain('cosign initialize');
  });
});
