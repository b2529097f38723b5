// Differential testing against BuildKit: the same build definition and context are built by
// `DOCKER_BUILDKIT=1 docker build` (from the Dockerfile wharf emits) and by wharf's direct backend; the
// flattened file trees (paths, types, modes, owners, link targets, contents) and the image configs
// must be the same.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type BuildGraph, emitDockerfile, lowerDockerfile } from '@wharf/core';
import * as archive from '@wharf/core/archive';
import { buildImage } from '@wharf/core/engine';
import { exportImage } from '@wharf/core/export';
import * as layout from '@wharf/core/layout';
import * as oci from '@wharf/core/oci';
import type { RegistryOptions } from '@wharf/core/registry';
import { BUSYBOX_MULTI } from './base-images.js';
import { docker, dockerBuild } from './docker.js';
import { readSavedImage, type Tree, treeLines } from './image-tree.js';
import { tempDir } from './paths.js';

/** Context files: text, or `{ mode, content }`, or `{ symlink }`. */
export type ContextFile =
  | string
  | { readonly content: string; readonly mode: number }
  | { readonly symlink: string };

export function writeContext(dir: string, files: Readonly<Record<string, ContextFile>>): void {
  for (const [path, file] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    if (typeof file === 'string') writeFileSync(full, file);
    else if ('symlink' in file) symlinkSync(file.symlink, full);
    else writeFileSync(full, file.content, { mode: file.mode });
  }
}

/** The config fields both builders must agree on (absent, null and empty count as the same). */
const CONFIG_FIELDS = [
  'User',
  'Env',
  'Cmd',
  'Entrypoint',
  'WorkingDir',
  'ExposedPorts',
  'Volumes',
  'Labels',
  'Healthcheck',
  'StopSignal',
  'OnBuild',
  'Shell',
] as const;

export function comparableConfig(config: Record<string, unknown>): Record<string, unknown> {
  const inner = (config.config ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS) {
    const value = inner[field];
    const empty =
      value === undefined ||
      value === null ||
      value === '' ||
      (Array.isArray(value) && value.length === 0) ||
      (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0);
    if (!empty) out[field] = value;
  }
  out.os = config.os;
  out.architecture = config.architecture;
  return out;
}

export interface BuildBoth {
  readonly name: string;
  /** The graph BuildKit builds (its Dockerfile is emitted from it). */
  readonly graph: BuildGraph;
  /** The graph the direct backend builds; default the same (it differs only in how bases are named). */
  readonly directGraph?: BuildGraph;
  readonly files: Readonly<Record<string, ContextFile>>;
  readonly buildArgs?: Readonly<Record<string, string>>;
  readonly target?: string;
  /** Extra setup of the context folder (e.g. making archives). */
  readonly prepare?: (dir: string) => void;
  /**
   * Registry settings for the direct backend's base-image pulls, e.g. `{ mirrors: [testEnv().mirror.url] }`
   * so `FROM busybox` comes from the loopback mirror dockerd uses too.
   */
  readonly registry?: RegistryOptions;
  /** `--build-context` values for the direct backend, e.g. `{ busybox: await busyboxLayout() }`. */
  readonly buildContexts?: Readonly<Record<string, string>>;
  /**
   * Secrets for `RUN --mount=type=secret`: id → content. Written outside the context and given to both
   * builders (`docker build --secret id=…,src=…` and `secrets: { id: { path } }`).
   */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Extra `docker build` flags. */
  readonly dockerArgs?: readonly string[];
  /** `--platform` for both builders, e.g. `linux/arm64`. */
  readonly platform?: string;
}

export interface BothResults {
  readonly buildkit: { tree: Tree; config: Record<string, unknown> };
  readonly direct: { tree: Tree; config: Record<string, unknown> };
  readonly contextDir: string;
}

/** Builds with BuildKit and with the direct backend; returns both trees and configs. */
export async function buildBoth(spec: BuildBoth): Promise<BothResults> {
  const dir = tempDir(`wharf-diff-${spec.name}-`);
  const contextDir = join(dir, 'context');
  mkdirSync(contextDir, { recursive: true });
  writeContext(contextDir, spec.files);
  spec.prepare?.(contextDir);

  const { dockerfile, dockerignore } = emitDockerfile(spec.graph);
  const dockerfilePath = join(dir, 'Dockerfile');
  writeFileSync(dockerfilePath, dockerfile);
  if (dockerignore !== undefined) writeFileSync(join(contextDir, '.dockerignore'), dockerignore);
  const secretArgs: string[] = [];
  const secrets: Record<string, { path: string }> = {};
  for (const [id, content] of Object.entries(spec.secrets ?? {})) {
    const path = join(dir, 'secrets', id);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode: 0o600 });
    secretArgs.push('--secret', `id=${id},src=${path}`);
    secrets[id] = { path };
  }
  const tag = `wharf-diff/${spec.name}:latest`;
  const platformArgs = spec.platform ? ['--platform', spec.platform] : [];
  const dockerArgs = [...secretArgs, ...platformArgs, ...(spec.dockerArgs ?? [])];
  await dockerBuild({
    contextDir,
    dockerfile: dockerfilePath,
    tag,
    ...(spec.buildArgs ? { buildArgs: { ...spec.buildArgs } } : {}),
    ...(spec.target ? { target: spec.target } : {}),
    ...(dockerArgs.length ? { args: dockerArgs } : {}),
  });
  const saved = join(dir, 'buildkit.tar');
  await docker(['save', '-o', saved, tag]);

  // The direct backend, with what BuildKit was given.
  const directBuild = (graph: BuildGraph) =>
    buildImage(graph, {
      compressEarly: true,
      contextDir,
      cacheDir: join(dir, 'cache'),
      ...(spec.buildArgs ? { buildArgs: spec.buildArgs } : {}),
      ...(spec.target ? { target: spec.target } : {}),
      ...(spec.registry ? { registry: spec.registry } : {}),
      ...(spec.secrets ? { secrets } : {}),
      ...(spec.buildContexts ? { buildContexts: spec.buildContexts } : {}),
      ...(spec.platform ? { platform: oci.parsePlatform(spec.platform) } : {}),
    });
  const direct = await directBuild(spec.directGraph ?? spec.graph);
  // The Dockerfile path (wharf build -f): lowering the emitted Dockerfile builds the very same image.
  const directDockerfile = emitDockerfile(spec.directGraph ?? spec.graph).dockerfile;
  const viaDockerfile = await directBuild(lowerDockerfile(directDockerfile, { file: 'Dockerfile' }));
  const [viaDockerfileDigest, directDigest] = [
    await viaDockerfile.image.digest(),
    await direct.image.digest(),
  ];
  if (viaDockerfileDigest !== directDigest) {
    throw new Error(
      `${spec.name}: building the emitted Dockerfile gave ${viaDockerfileDigest}, build.ts gave ${directDigest}`,
    );
  }
  const ours = join(dir, 'direct.tar');
  await exportImage(direct.image, { type: 'docker-archive', dest: ours });

  const [bk, wh] = await Promise.all([readSavedImage(saved), readSavedImage(ours)]);
  return {
    buildkit: { tree: withoutMountStubs(bk.tree, wh.tree), config: comparableConfig(bk.config) },
    direct: { tree: wh.tree, config: comparableConfig(wh.config) },
    contextDir,
  };
}

/**
 * A Dockerfile for the platform tests: `ARG BASE` (busybox:multi, amd64 + arm64), then a stage `tools`
 * that runs on the build platform (`FROM --platform=$BUILDPLATFORM`) and writes
 * `<uname -m> for <TARGETARCH> <TARGETPLATFORM> on <BUILDPLATFORM>` to /tools-note; `stages` follow it.
 */
export function buildPlatformDockerfile(stages: string): string {
  return `ARG BASE=${BUSYBOX_MULTI.ref}
FROM --platform=$BUILDPLATFORM $BASE AS tools
ARG TARGETARCH
ARG TARGETPLATFORM
ARG BUILDPLATFORM
RUN echo "$(uname -m) for $TARGETARCH $TARGETPLATFORM on $BUILDPLATFORM" > /tools-note
${stages}`;
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * BuildKit 20.10's tree without the empty 0755 `/etc/hosts` and `/etc/resolv.conf` files its runc leaves
 * in a RUN layer at times (the mount stubs its stub cleaner missed, under load; BuildKit's cache then
 * serves that layer to every later build). Only such stubs the direct tree lacks are dropped, so a real
 * difference in those files still shows.
 */
export function withoutMountStubs(buildkit: Tree, direct: Tree): Tree {
  const out = new Map(buildkit);
  for (const path of ['/etc/hosts', '/etc/resolv.conf']) {
    const entry = out.get(path);
    const stub = entry?.type === 'file' && entry.mode === '755' && entry.sha256 === EMPTY_SHA256;
    if (stub && !direct.has(path)) out.delete(path);
  }
  return out;
}

/** Both trees as comparable lines (the .dockerignore file the test wrote is part of neither image). */
export function trees(results: BothResults, options: { under?: string } = {}) {
  return {
    buildkit: treeLines(results.buildkit.tree, options),
    direct: treeLines(results.direct.tree, options),
  };
}

/**
 * The busybox look-alike as a local OCI layout (`oci-layout:///abs/dir:latest`), for direct builds of
 * definitions BuildKit builds `FROM busybox`: pass it as `buildContexts: { busybox: ref }` (a
 * definition may not name a layout outside its folder). Made once per test file.
 */
export async function busyboxLayout(): Promise<string> {
  const dir = tempDir('wharf-busybox-layout-');
  const saved = join(dir, 'busybox.tar');
  await docker(['pull', 'busybox:latest']);
  await docker(['save', '-o', saved, 'busybox:latest']);
  const image = await archive.readDockerArchive(saved);
  await layout.writeLayout(join(dir, 'layout'), { image, names: ['latest'] });
  return `oci-layout://${join(dir, 'layout')}:latest`;
}
