// SBOMs of real images: a Dockerfile built FROM the mirror's node:20-alpine look-alike (npm's own
// node_modules tree under /usr/local/lib), with a dpkg database and an app's node_modules copied in and one
// package removed by a RUN (a whiteout). The catalogue must equal what an independent reading of the same
// image finds: umoci unpacks the layout, the test walks the tree and parses the dpkg database itself.
// The push is signed too (--sign key=), and `wharf verify` lists the SBOM and provenance as verified.
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../packages/core/src/build.js';
import { stage } from '../../packages/core/src/dsl/index.js';
import { appendLayers } from '../../packages/core/src/image/index.js';
import { readLayout, writeLayout } from '../../packages/core/src/layout/index.js';
import { MediaType } from '../../packages/core/src/oci/index.js';
import { pushImage, RegistryClient } from '../../packages/core/src/registry/index.js';
import { catalogueImage, generateSbom } from '../../packages/core/src/sbom/index.js';
import {
  attachArtifact,
  fetchArtifact,
  listReferrers,
  provenanceStatement,
  referrersTag,
} from '../../packages/core/src/sign/index.js';
import { fileLayer, randomImage } from '../../packages/core/src/testing/index.js';
import { wharfAsync } from '../helpers/cli.js';
import { noDocker, testEnv } from '../helpers/env.js';
import { p256KeyPair } from '../helpers/keys.js';
import { tempDir } from '../helpers/paths.js';
import { type Registry, startRegistry } from '../helpers/registry.js';
import { requireTool, skopeoCopy, umociUnpack } from '../helpers/tools.js';

const DPKG_STATUS = `Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4
Description: GNU C Library
 multi-line description

Package: removed-later
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: curl
Status: install ok installed
Architecture: amd64
Source: curl (7.88.1-10)
Version: 7.88.1-10+deb12u5
`;

function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** The oracle for Node: every `node_modules/[@scope/]name/package.json` file (links not followed). */
function nodePackagesIn(root: string): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string, parentIsNodeModules: boolean, scoped: boolean): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      if (!stat.isDirectory()) continue;
      const isPackageDir = (parentIsNodeModules || scoped) && !name.startsWith('.') && !name.startsWith('@');
      if (isPackageDir) {
        try {
          const manifest = lstatSync(join(path, 'package.json'));
          if (manifest.isFile()) {
            const json = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
            if (typeof json.name === 'string' && typeof json.version === 'string')
              found.add(`${json.name}@${json.version}`);
          }
        } catch {}
      }
      walk(path, name === 'node_modules', parentIsNodeModules && name.startsWith('@'));
    }
  };
  walk(root, false, false);
  return found;
}

/** The oracle for dpkg: installed stanzas of the status file. */
function dpkgInstalled(text: string): Set<string> {
  const out = new Set<string>();
  for (const stanza of text.split(/\n\n+/)) {
    const field = (key: string) => new RegExp(`^${key}: (.*)$`, 'm').exec(stanza)?.[1];
    if (field('Status')?.endsWith(' installed')) out.add(`${field('Package')}@${field('Version')}`);
  }
  return out;
}

describe.skipIf(noDocker())('supply chain: SBOM of a built image', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(() => registry?.stop());

  it.skipIf(!requireTool('umoci') || !requireTool('skopeo'))(
    'catalogues dpkg and node_modules (npm base tree + app) exactly as the unpacked image holds them',
    async () => {
      const work = tempDir('wharf-sbom-');
      const context = join(work, 'ctx');
      writeTree(context, {
        Dockerfile: [
          'FROM node:20-alpine',
          'COPY status /var/lib/dpkg/status',
          'COPY app /app',
          'RUN rm -r /app/node_modules/left-pad',
          '',
        ].join('\n'),
        status: DPKG_STATUS,
        'app/package.json': JSON.stringify({ name: 'the-app', version: '1.0.0' }),
        'app/node_modules/ms/package.json': JSON.stringify({ name: 'ms', version: '2.1.3', license: 'MIT' }),
        'app/node_modules/@scope/tool/package.json': JSON.stringify({
          name: '@scope/tool',
          version: '0.2.0',
        }),
        'app/node_modules/left-pad/package.json': JSON.stringify({ name: 'left-pad', version: '1.3.0' }),
      });
      const layout = join(work, 'layout');
      const built = await wharfAsync([
        'build',
        '-f',
        join(context, 'Dockerfile'),
        context,
        '-o',
        `type=oci,dest=${layout}`,
        '--push',
        '-t',
        `${registry.host}/wharf/sbom:1`,
        '--sbom',
        '--provenance',
        'mode=max',
        '--sign',
        `key=${p256KeyPair(work, 'cosign').sec1}`,
        '--registry-mirror',
        testEnv().mirror.url,
        '--cache-dir',
        join(work, 'cache'),
        '--progress',
        'quiet',
      ]);
      expect(built.stderr).toBe('');
      expect(built.code).toBe(0);

      const image = await readLayout(layout);
      const started = Date.now();
      const { packages } = await catalogueImage(image);
      const catalogueMs = Date.now() - started;

      // umoci reads OCI manifests only; the build keeps the base's Docker media types. The layout also
      // lists the SBOM, provenance and signatures (referrers), and skopeo 1.9 finds no Docker-typed
      // manifest by tag: the image alone goes to a layout of its own first
      const alone = join(work, 'image-only');
      await writeLayout(alone, image);
      await skopeoCopy(`oci:${alone}`, `oci:${join(work, 'oci')}:1`, ['--format', 'oci']);
      const rootfs = join(await umociUnpack(`${join(work, 'oci')}:1`, join(work, 'bundle')), 'rootfs');
      const npm = packages.filter((p) => p.type === 'npm').map((p) => `${p.name}@${p.version}`);
      expect(new Set(npm)).toEqual(nodePackagesIn(rootfs));
      expect(npm).toContain('ms@2.1.3');
      expect(npm).toContain('@scope/tool@0.2.0');
      expect(npm).not.toContain('left-pad@1.3.0');
      expect(npm.length).toBeGreaterThan(3); // npm's own tree in the base
      const deb = packages.filter((p) => p.type === 'deb').map((p) => `${p.name}@${p.version}`);
      expect(new Set(deb)).toEqual(dpkgInstalled(readFileSync(join(rootfs, 'var/lib/dpkg/status'), 'utf8')));
      expect(deb).toEqual(['curl@7.88.1-10+deb12u5', 'libc6@2.36-9+deb12u4']);

      // the layer that added each: the app's packages come from the COPY, npm's from the base
      const diffIds = (await image.config()).rootfs.diff_ids;
      const ms = packages.find((p) => p.name === 'ms');
      const npmItself = packages.find((p) => p.name === 'npm');
      expect(ms?.path).toBe('/app/node_modules/ms/package.json');
      expect(diffIds.indexOf(ms?.layer as never)).toBe(diffIds.length - 2);
      expect(diffIds.indexOf(npmItself?.layer as never)).toBeLessThan(diffIds.length - 3);
      console.log(
        `catalogue of ${packages.length} packages over ${diffIds.length} layers: ${catalogueMs} ms`,
      );

      const options = { subject: { name: 'sbom-test', digest: await image.digest() } };
      const spdx = JSON.parse(await generateSbom(image, options));
      expect(spdx.packages.length).toBe(packages.length + 1);
      const cdx = await generateSbom(image, { ...options, format: 'cyclonedx-json' });
      expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(cdx)).toBeNull();

      // what --push --sbom --provenance attached: found through the referrers tag of the pushed digest
      const client = new RegistryClient(registry.host);
      try {
        const repository = client.repository('wharf/sbom', 'pull');
        const pushedDigest = built.stdout.trim();
        expect(pushedDigest).toBe(await image.digest());
        const tag = await fetch(
          `${registry.url}/v2/wharf/sbom/manifests/${referrersTag(await image.digest())}`,
          {
            headers: { accept: MediaType.ociIndex },
          },
        );
        const tags = await (await fetch(`${registry.url}/v2/wharf/sbom/tags/list`)).text();
        expect(tag.status, `${tags} ${built.stdout}`).toBe(200);
        const [sbomRef] = await listReferrers(repository, await image.digest(), 'application/spdx+json');
        const [sbomFile] = await fetchArtifact(repository, sbomRef as NonNullable<typeof sbomRef>);
        const attached = JSON.parse(Buffer.from(sbomFile?.bytes ?? []).toString());
        const attachedPurls = new Set(
          attached.packages
            .slice(2)
            .map(
              (p: { externalRefs: { referenceLocator: string }[] }) => p.externalRefs[0]?.referenceLocator,
            ),
        );
        expect(attachedPurls).toEqual(new Set(packages.map((p) => p.purl)));
        // wharf sbom REF prints the attached document; a format not attached is one line, exit 1
        const printed = await wharfAsync(['sbom', `${registry.host}/wharf/sbom:1`]);
        expect(printed.code).toBe(0);
        expect(printed.stdout).toBe(Buffer.from(sbomFile?.bytes ?? []).toString());
        const missing = await wharfAsync([
          'sbom',
          `${registry.host}/wharf/sbom:1`,
          '--format',
          'cyclonedx-json',
        ]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(
          /^wharf: no cyclonedx-json SBOM is attached to .*\n {2}hint: build and push it with --sbom cyclonedx-json\n$/,
        );
        const base = attached.packages[1];
        expect(base.name).toBe('node:20-alpine');
        // --sign key=: the signature binds the pushed digest; the SBOM and provenance verify as attestations
        const verified = await wharfAsync([
          'verify',
          `${registry.host}/wharf/sbom:1`,
          '--key',
          join(work, 'cosign.pub'),
        ]);
        expect(verified.code).toBe(0);
        expect(verified.stdout).toContain(`verified ${pushedDigest}: signature`);
        expect(verified.stdout).toContain('verified attestation https://spdx.dev/Document');
        expect(verified.stdout).toContain('verified attestation https://slsa.dev/provenance/v1');
        const [provenanceRef] = await listReferrers(
          repository,
          await image.digest(),
          'application/vnd.in-toto+json',
        );
        const [statementFile] = await fetchArtifact(
          repository,
          provenanceRef as NonNullable<typeof provenanceRef>,
        );
        const statement = JSON.parse(Buffer.from(statementFile?.bytes ?? []).toString());
        expect(statement.subject).toEqual([
          { name: `${registry.host}/wharf/sbom`, digest: { sha256: (await image.digest()).slice(7) } },
        ]);
        const deps = statement.predicate.buildDefinition.resolvedDependencies;
        expect(deps[0]).toEqual({
          uri: 'pkg:docker/node:20-alpine',
          digest: { sha256: base.versionInfo.slice(7) },
          name: 'node:20-alpine',
        });
        expect(statement.predicate.buildDefinition.externalParameters.definition.path).toBe(
          join(context, 'Dockerfile'),
        );
        expect(statement.predicate.buildDefinition.internalParameters.buildGraph.stages.length).toBe(1);
      } finally {
        await client.close();
      }
    },
    120_000,
  );
});

describe.skipIf(noDocker())('supply chain: SBOM and provenance attached as OCI 1.1 referrers', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(() => registry?.stop());

  it('pushes artifacts with subject by digest and keeps the sha256-<hex> referrers tag (docker-registry 2.8 has no API)', async () => {
    const image = await randomImage(1);
    const layer = await fileLayer({
      'app/node_modules/ms/package.json': JSON.stringify({ name: 'ms', version: '2.1.3' }),
    });
    const app = appendLayers(image, layer);
    const pushed = await pushImage(app, `${registry.host}/wharf/sc:1`);
    const subject = {
      mediaType: pushed.mediaType,
      digest: pushed.digest,
      size: (await app.rawManifest()).byteLength,
    };
    const client = new RegistryClient(registry.host);
    try {
      const repository = client.repository('wharf/sc', 'pull,push');
      const sbom = Buffer.from(
        await generateSbom(app, { subject: { name: `${registry.host}/wharf/sc`, digest: pushed.digest } }),
      );
      const statement = provenanceStatement({
        subjects: [{ name: `${registry.host}/wharf/sc`, digest: pushed.digest }],
        definition: { path: 'build.ts', digest: pushed.digest },
        platforms: ['linux/amd64'],
        bases: [],
        builder: { id: 'https://wharf.dev/builder/test', version: '0' },
        invocationId: 'test',
        startedOn: new Date(),
        finishedOn: new Date(),
      });
      const provenance = Buffer.from(JSON.stringify(statement));
      const spdx = await attachArtifact(repository, subject, {
        artifactType: 'application/spdx+json',
        blobs: [{ mediaType: 'application/spdx+json', bytes: sbom }],
      });
      await attachArtifact(repository, subject, {
        artifactType: 'application/vnd.in-toto+json',
        blobs: [{ mediaType: 'application/vnd.in-toto+json', bytes: provenance }],
      });
      // attaching the same artifact again leaves one entry
      await attachArtifact(repository, subject, {
        artifactType: 'application/spdx+json',
        blobs: [{ mediaType: 'application/spdx+json', bytes: sbom }],
      });

      // independent reading over plain HTTP: no referrers API, and the tag's index lists both artifacts
      const api = await fetch(`${registry.url}/v2/wharf/sc/referrers/${pushed.digest}`);
      expect(api.status).toBe(404);
      const tag = await fetch(`${registry.url}/v2/wharf/sc/manifests/${referrersTag(pushed.digest)}`, {
        headers: { accept: MediaType.ociIndex },
      });
      expect(tag.status).toBe(200);
      const index = (await tag.json()) as { manifests: { artifactType: string; digest: string }[] };
      expect(index.manifests.map((m) => m.artifactType)).toEqual([
        'application/spdx+json',
        'application/vnd.in-toto+json',
      ]);
      const artifact = await fetch(`${registry.url}/v2/wharf/sc/manifests/${spdx.digest}`, {
        headers: { accept: MediaType.ociManifest },
      });
      const manifest = (await artifact.json()) as { subject: { digest: string }; artifactType: string };
      expect(manifest.subject.digest).toBe(pushed.digest);
      expect(manifest.artifactType).toBe('application/spdx+json');

      const found = await listReferrers(repository, pushed.digest, 'application/spdx+json');
      expect(found.map((d) => d.digest)).toEqual([spdx.digest]);
      const [blob] = await fetchArtifact(repository, found[0] as (typeof found)[0]);
      expect(Buffer.from(blob?.bytes ?? []).equals(sbom)).toBe(true);
      expect(JSON.parse(sbom.toString()).packages.map((p: { name: string }) => p.name)).toContain('ms');
    } finally {
      await client.close();
    }
  });
});

describe.skipIf(noDocker())('supply chain: build() API options', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(() => registry?.stop());

  it('build({ sbom, provenance }) attaches both to the pushed image', async () => {
    const work = tempDir('wharf-sbom-api-');
    writeTree(work, { 'node_modules/ms/package.json': JSON.stringify({ name: 'ms', version: '2.1.3' }) });
    const app = stage('app').from('scratch').copy('node_modules', '/app/node_modules');
    const { digest } = await build(app, {
      contextDir: work,
      cacheDir: join(work, 'cache'),
      output: 'type=registry',
      tags: [`${registry.host}/wharf/api:1`],
      sbom: 'cyclonedx-json',
      provenance: 'max',
    });
    const client = new RegistryClient(registry.host);
    try {
      const repository = client.repository('wharf/api', 'pull');
      const [cdxRef] = await listReferrers(repository, digest, 'application/vnd.cyclonedx+json');
      const [cdxFile] = await fetchArtifact(repository, cdxRef as NonNullable<typeof cdxRef>);
      const cdx = Buffer.from(cdxFile?.bytes ?? []).toString();
      expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(cdx)).toBeNull();
      expect(JSON.parse(cdx).components.map((c: { purl: string }) => c.purl)).toEqual(['pkg:npm/ms@2.1.3']);
      const [provRef] = await listReferrers(repository, digest, 'application/vnd.in-toto+json');
      const [provFile] = await fetchArtifact(repository, provRef as NonNullable<typeof provRef>);
      const statement = JSON.parse(Buffer.from(provFile?.bytes ?? []).toString());
      expect(statement.predicate.buildDefinition.externalParameters.definition.path).toBe('build graph');
      expect(statement.predicate.buildDefinition.internalParameters.buildGraph.stages[0].name).toBe('app');
    } finally {
      await client.close();
    }
  });
});

describe('supply chain: flags', () => {
  it('--sbom/--provenance without a push or a layout, or with an unknown format, fail before any work with one line', async () => {
    const work = tempDir('wharf-sbom-flags-');
    writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\n');
    const noPush = await wharfAsync([
      'build',
      '-f',
      join(work, 'Dockerfile'),
      work,
      '-o',
      `type=oci-archive,dest=${join(work, 'out.tar')}`,
      '--sbom',
    ]);
    expect(noPush.code).toBe(1);
    expect(noPush.stderr).toMatch(
      /^wharf: --sbom, --provenance and --sign apply to a pushed image or an OCI layout\n {2}hint: add --push/,
    );
    const pushing = (...extra: string[]) =>
      wharfAsync([
        'build',
        '-f',
        join(work, 'Dockerfile'),
        work,
        '--push',
        '-t',
        '127.0.0.1:1/x:1',
        ...extra,
      ]);
    const badFormat = await pushing('--sbom', 'xml');
    expect(badFormat.code).toBe(1);
    expect(badFormat.stderr).toContain('--sbom xml: unknown format');
    const badMode = await pushing('--provenance', 'mode=all');
    expect(badMode.code).toBe(1);
    expect(badMode.stderr).toContain('--provenance mode=all: unknown mode');
  });
});
