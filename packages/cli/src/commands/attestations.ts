/** `wharf attestations REF`: list the artifacts attached to a pushed image (signatures, SBOMs, provenance). */
import * as sign from '@wharf/core/sign';
import type { Command } from 'commander';
import { type RegistryFlags, registryOptions, registryOptionsFrom } from './pull.js';

export function registerAttestations(program: Command): void {
  const command = program
    .command('attestations')
    .description(
      'list the signatures, SBOMs and provenance attached to a pushed image (unverified; see wharf verify)',
    )
    .argument(
      '<ref>',
      'the image: registry.example.com/app:1.0, …@sha256:…, or an OCI layout oci:DIR[:NAME]',
    );
  registryOptions(command).action(async (ref: string, flags: RegistryFlags, cmd: Command) => {
    const { digest, artifacts } = await sign.listAttestations(
      ref,
      registryOptionsFrom({ ...flags, quiet: true }, cmd),
    );
    if (!flags.quiet) process.stderr.write(`${artifacts.length} attached to ${digest}\n`);
    for (const a of artifacts) {
      process.stdout.write(
        `${[a.digest, a.artifactType, a.predicateType ?? '-', a.created ?? '-'].join('\t')}\n`,
      );
    }
  });
}
