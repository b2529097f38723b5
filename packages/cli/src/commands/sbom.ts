/** `wharf sbom REF [--format spdx-json|cyclonedx-json]`: print the SBOM attached to a pushed image. */

import { WharfError } from '@wharf/core';
import * as sbom from '@wharf/core/sbom';
import * as sign from '@wharf/core/sign';
import type { Command } from 'commander';
import { type RegistryFlags, registryOptions, registryOptionsFrom } from './pull.js';

interface SbomFlags extends RegistryFlags {
  readonly format: string;
}

export function registerSbom(program: Command): void {
  const command = program
    .command('sbom')
    .description(
      'print the SBOM attached to a pushed image or stored in a layout (wharf build --push --sbom)',
    )
    .argument('<ref>', 'the image: registry.example.com/app:1.0, …@sha256:…, or an OCI layout oci:DIR[:NAME]')
    .option('--format <format>', 'spdx-json | cyclonedx-json', 'spdx-json');
  registryOptions(command).action(async (ref: string, flags: SbomFlags, cmd: Command) => {
    if (flags.format !== 'spdx-json' && flags.format !== 'cyclonedx-json') {
      throw new WharfError('CLI_BAD_SBOM_FORMAT', `--format ${flags.format}: unknown format`, {
        hint: 'use --format spdx-json or --format cyclonedx-json',
      });
    }
    const attached = await sign.readAttached(ref, sbom.SBOM_MEDIA_TYPES[flags.format], {
      ...registryOptionsFrom({ ...flags, quiet: true }, cmd),
    });
    if (!attached) {
      throw new WharfError('CLI_NO_SBOM', `no ${flags.format} SBOM is attached to ${ref}`, {
        hint: `build and push it with --sbom${flags.format === 'spdx-json' ? '' : ` ${flags.format}`}`,
      });
    }
    process.stdout.write(Buffer.from(attached.bytes));
  });
}
