/** `wharf dockerfile [build.ts] [-o Dockerfile]`: compile a build definition to a Dockerfile. */
import { dirname, join, relative, resolve } from 'node:path';
import { emitDockerfile } from '@wharf/core';
import { assertValidGraph } from '@wharf/core/ir';
import * as lock from '@wharf/core/lock';
import type { Command } from 'commander';
import { loadDefinition } from '../load-definition.js';
import { printWarnings } from '../render/warnings.js';
import { writeFileAtomic } from '../write-file.js';
import { checkDockerfile } from './convert.js';

interface DockerfileFlags {
  readonly output?: string;
  readonly target?: string;
  readonly check?: string;
}

export function registerDockerfile(program: Command): void {
  program
    .command('dockerfile')
    .description('compile build.ts to a Dockerfile (and .dockerignore) that BuildKit builds unchanged')
    .argument('[definition]', 'the build definition', 'build.ts')
    .option(
      '-o, --output <file>',
      'write the Dockerfile here (and .dockerignore beside it) instead of stdout',
    )
    .option('--target <name>', 'the target to compile when the definition has several')
    .option('--check <Dockerfile>', 'parse and validate a Dockerfile instead, and report its problems')
    .action(async (file: string, flags: DockerfileFlags) => {
      if (flags.check !== undefined) {
        const warnings = await checkDockerfile(flags.check);
        printWarnings(warnings);
        process.stdout.write(
          `${flags.check}: ok${warnings.length ? ` (${warnings.length} warning${warnings.length > 1 ? 's' : ''})` : ''}\n`,
        );
        return;
      }
      const { graph: defined, dir } = await loadDefinition(file, flags.target);
      // bases locked in wharf.lock are emitted as FROM name:tag@sha256:… (no registry is asked)
      const graph = await lock.lockedGraph(defined, {
        dir,
        onEvent: (e) => e.type === 'warning' && printWarnings([{ ...e, severity: 'warning', code: 'LOCK' }]),
      });
      printWarnings(assertValidGraph(graph));
      const { dockerfile, dockerignore } = emitDockerfile(graph);
      if (!flags.output) {
        process.stdout.write(dockerfile);
        return;
      }
      await writeFileAtomic(flags.output, dockerfile);
      if (dockerignore === undefined) return;
      const outputDir = dirname(resolve(flags.output));
      await writeFileAtomic(join(outputDir, '.dockerignore'), dockerignore);
      const contextDir = resolve(dir, graph.context.dir);
      if (contextDir !== outputDir) warnIgnoreFileMisplaced(outputDir, contextDir);
    });
}

/** Docker reads .dockerignore from the root of the build context only: say so when they differ. */
function warnIgnoreFileMisplaced(outputDir: string, contextDir: string): void {
  const shown = (path: string) => relative(process.cwd(), path) || '.';
  process.stderr.write(
    `wharf: warning: the .dockerignore applies only if ${shown(outputDir)} is the build context; this build's context is ${shown(contextDir)}\n` +
      `  hint: write the Dockerfile into the context: -o ${join(shown(contextDir), 'Dockerfile')}\n`,
  );
}
