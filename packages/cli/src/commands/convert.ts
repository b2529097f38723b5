/**
 * `wharf convert [Dockerfile] [-o build.ts]`: a Dockerfile as an idiomatic build.ts. Parse and lowering
 * errors exit 1 with `file:line:col: message`; validation findings are printed as warnings.
 * `checkDockerfile(file)` is the same front half for `wharf dockerfile --check`-style callers.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { type BuildGraph, generateBuildTs, lowerDockerfile, WharfError } from '@wharf/core';
import { assertValidGraph, type Problem, validateGraph } from '@wharf/core/ir';
import type { Command } from 'commander';
import { printWarnings } from '../render/warnings.js';
import { writeFileAtomic } from '../write-file.js';

interface ConvertFlags {
  readonly output?: string;
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert a Dockerfile to a build.ts that builds the same image')
    .argument('[dockerfile]', 'the Dockerfile to convert', 'Dockerfile')
    .option('-o, --output <file>', 'write the build.ts here instead of stdout')
    .action(async (file: string, flags: ConvertFlags) => {
      const graph = await readDockerfile(file);
      printWarnings(validateGraph(graph));
      const code = generateBuildTs(graph, { sourceName: basename(file) });
      if (flags.output) await writeFileAtomic(flags.output, code);
      else process.stdout.write(code);
    });
}

/**
 * Parses, lowers and validates a Dockerfile: throws the first error (a WharfError with `file:line:col`),
 * returns the warnings.
 */
export async function checkDockerfile(file: string): Promise<Problem[]> {
  return assertValidGraph(await readDockerfile(file));
}

/** A Dockerfile lowered to the IR; build args decide which stage a `FROM ${ARG}` names, as in BuildKit. */
export async function readDockerfile(
  file: string,
  buildArgs?: Readonly<Record<string, string>>,
): Promise<BuildGraph> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new WharfError('DOCKERFILE_NOT_FOUND', `cannot read ${file}: ${(error as Error).message}`, {
      hint: 'pass the path of a Dockerfile, e.g. wharf convert ./Dockerfile',
      cause: error,
    });
  }
  return lowerDockerfile(text, { file, ...(buildArgs ? { buildArgs } : {}) });
}
