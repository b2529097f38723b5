/**
 * `wharf push SRC REF [REF…]`: push an image from an OCI layout directory, an oci-archive or a
 * docker-archive to one or more references; a multi-platform image (a layout or oci-archive holding
 * one index) is pushed whole: every platform's image, then the index. Large blobs upload in chunks whose sessions are saved
 * under the store, so a push that was interrupted (even killed) continues where the registry stopped.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WharfError } from '@wharf/core';
import * as archive from '@wharf/core/archive';
import { readDockerArchive, readOciArchive } from '@wharf/core/archive';
import { defaultStoreRoot } from '@wharf/core/engine';
import type { Image, ImageIndex } from '@wharf/core/image';
import * as layout from '@wharf/core/layout';
import { readLayout } from '@wharf/core/layout';
import { parseReference } from '@wharf/core/oci';
import { fileUploadSessions, pushImage, pushIndex } from '@wharf/core/registry';
import * as sign from '@wharf/core/sign';
import type { Command } from 'commander';
import { formatBytes } from '../render/size.js';
import { parseSignSpec, signOption } from './attest.js';
import { type RegistryFlags, registryOptions, registryOptionsFrom } from './pull.js';

interface PushFlags extends RegistryFlags {
  readonly image?: string;
  readonly platform?: string;
  readonly sign?: string;
}

/** Opens SRC: a layout directory, or a tar that is an oci-archive (has index.json) or a docker-archive. */
export async function openSource(
  src: string,
  select: { ref?: string; platform?: string } = {},
): Promise<Image> {
  let isDir: boolean;
  try {
    isDir = (await stat(src)).isDirectory();
  } catch (cause) {
    throw new WharfError('CLI_SOURCE_NOT_FOUND', `${src} does not exist`, {
      hint: 'pass an OCI layout directory, an oci-archive or a docker-archive file',
      cause,
    });
  }
  const options = {
    ...(select.ref ? { ref: select.ref } : {}),
    ...(select.platform ? { platform: parsePlatformLoose(select.platform) } : {}),
  };
  if (isDir) return readLayout(src, options);
  try {
    return await readOciArchive(src, options);
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!/NOT_AN?_|MISSING|INDEX/.test(code)) throw error;
    return readDockerArchive(src, select.ref ? { tag: select.ref } : {});
  }
}

/**
 * The multi-platform image SRC holds, when it holds just that (a layout or oci-archive whose
 * `index.json` lists one index, under any number of names, and no single image); else undefined.
 */
async function sourceIndex(src: string): Promise<ImageIndex | undefined> {
  const isDir = (await stat(src)).isDirectory();
  const top = await (isDir ? layout.openLayout(src) : archive.openOciArchive(src)).catch(() => undefined);
  if (top === undefined) return undefined; // a docker-archive: images only
  const [entries, nested] = await Promise.all([top.images(), top.indexes()]);
  // referrers stored beside the images (SBOMs, signatures: entries with artifactType) are not images
  const images = entries.filter((e) => e.descriptor.artifactType === undefined);
  const digests = new Set(nested.map((n) => n.descriptor.digest));
  return images.length === 0 && digests.size === 1 ? nested[0]?.index : undefined;
}

function parsePlatformLoose(value: string) {
  const [os = 'linux', architecture = '', variant] = value.split('/');
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function registerPush(program: Command): void {
  const command = program
    .command('push')
    .description('push an image from an OCI layout, oci-archive or docker-archive to a registry')
    .argument('<src>', 'OCI layout directory, oci-archive or docker-archive file')
    .argument('<ref...>', 'where to push, e.g. ghcr.io/org/app:1.0 (several tags allowed)')
    .option('--image <name>', 'which image in SRC, when it holds several (a tag or name)')
    .option(
      '--platform <os/arch>',
      'push only this platform of a multi-platform SRC (default: the whole index, every platform)',
    )
    .addOption(signOption());
  registryOptions(command).action(async (src: string, refs: string[], flags: PushFlags, cmd: Command) => {
    const signing = flags.sign === undefined ? undefined : parseSignSpec(flags.sign); // before any upload
    const options = {
      ...registryOptionsFrom(flags, cmd),
      sessions: fileUploadSessions(join(defaultStoreRoot(), 'uploads')),
    };
    // A multi-platform image goes up whole (its images, then the index) unless one image is picked.
    const index = flags.image || flags.platform ? undefined : await sourceIndex(src).catch(() => undefined);
    const pushed: Image | ImageIndex =
      index ??
      (await openSource(src, {
        ...(flags.image ? { ref: flags.image } : {}),
        ...(flags.platform ? { platform: flags.platform } : {}),
      }));
    const result = index
      ? await pushIndex(index, refs, options)
      : await pushImage(pushed as Image, refs, options);
    // a layout's referrers of what was pushed (SBOMs, provenance, signatures) go with it, unchanged
    if ((await stat(src)).isDirectory()) {
      const subjects = [
        { mediaType: result.mediaType, digest: result.digest, size: (await pushed.rawManifest()).byteLength },
        ...(index ? (await index.manifest()).manifests : []),
      ];
      const carried = await sign.pushLayoutReferrers(src, subjects, refs, registryOptionsFrom(flags, cmd));
      if (carried > 0 && !flags.quiet) process.stderr.write(`${carried} attached artifacts pushed with it\n`);
    }
    // --sign: the pushed digest (the index, for a whole multi-platform image), once per repository
    const repositories = new Set(refs.map((ref) => parseReference(ref).name));
    for (const repository of signing ? repositories : []) {
      await sign.signImage(`${repository}@${result.digest}`, {
        sign: signing as sign.SigningOptions,
        registry: registryOptionsFrom(flags, cmd),
      });
    }
    for (const ref of result.references) process.stdout.write(`${ref}@${result.digest}\n`);
    if (!flags.quiet) {
      const s = result.stats;
      process.stderr.write(
        `${s.uploaded} uploaded (${formatBytes(s.bytesSent)} sent${s.resumed ? `, ${s.resumed} resumed` : ''}), ${s.existing} already there, ${s.mounted} mounted\n`,
      );
    }
  });
}
