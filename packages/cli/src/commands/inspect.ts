/**
 * `wharf inspect FILE|DIR|REF [--json]`: an image's config, layers and sizes — from an OCI layout, an
 * oci-archive or docker-archive file, or (when no such path exists) a registry.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { WharfError } from '@wharf/core';
import * as archive from '@wharf/core/archive';
import type { Image } from '@wharf/core/image';
import * as layout from '@wharf/core/layout';
import type { Command } from 'commander';
import { configLines, field } from '../render/image-config.js';
import { formatBytes } from '../render/size.js';
import { inspectRemote } from './inspect-remote.js';
import { type RegistryFlags, registryOptions, registryOptionsFrom } from './pull.js';

interface InspectFlags extends RegistryFlags {
  readonly json?: boolean;
  readonly name?: string;
  readonly platform?: string;
}

export function registerInspect(program: Command): void {
  const command = program
    .command('inspect')
    .description(
      'show an image: an OCI layout directory, an oci-archive or docker-archive file, or a registry image',
    )
    .argument('<image>', 'layout directory, archive file, or image reference (node:20, localhost:5000/app:1)')
    .option('--name <name>', 'which image of the layout or archive (tag or name)')
    .option('--platform <os/arch>', 'the platform to show from a multi-platform registry image')
    .option('--json', 'print manifest, config and layers as JSON');
  registryOptions(command).action(async (target: string, flags: InspectFlags, cmd: Command) => {
    if (!existsSync(target)) {
      process.stdout.write(
        await inspectRemote(target, {
          ...registryOptionsFrom({ ...flags, quiet: true }, cmd),
          ...(flags.platform ? { platform: flags.platform } : {}),
          ...(flags.json ? { json: true } : {}),
        }),
      );
      return;
    }
    const image = await openImage(target, flags.name);
    const [manifest, config, digest, layers] = await Promise.all([
      image.manifest(),
      image.config(),
      image.digest(),
      image.layers(),
    ]);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ digest, manifest, config }, null, 2)}\n`);
      return;
    }
    const total = manifest.layers.reduce((sum, l) => sum + l.size, 0);
    const history = config.history?.filter((h) => !h.empty_layer) ?? [];
    const lines = [
      field('Digest', digest),
      field('MediaType', manifest.mediaType ?? (await image.mediaType())),
      field('Platform', [config.os, config.architecture, config.variant].filter(Boolean).join('/')),
      field('Created', config.created ?? '-'),
      ...configLines(config),
      field('Layers', `${layers.length} (${formatBytes(total)} compressed)`),
      ...manifest.layers.map((l, i) =>
        `  ${l.digest}  ${formatBytes(l.size).padStart(8)}  ${history[i]?.created_by ?? ''}`.trimEnd(),
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}

async function openImage(target: string, name: string | undefined): Promise<Image> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(target);
  } catch {
    throw new WharfError('CLI_IMAGE_NOT_FOUND', `no such file or directory: ${target}`, {
      hint: 'pass an OCI layout directory, an oci-archive or a docker-archive file',
    });
  }
  const pick = name ? { ref: name } : {};
  if (info.isDirectory()) return layout.readLayout(target, pick);
  const manifests = await archive.dockerArchiveManifest(target).catch(() => undefined);
  if (manifests && manifests.length > 0) return archive.readDockerArchive(target, name ? { tag: name } : {});
  return archive.readOciArchive(target, pick);
}
