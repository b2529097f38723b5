/**
 * `wharf lint [build.ts | -f Dockerfile] [--format text|json|sarif] [--fail-on error|warning|info|style]`:
 * best-practice findings on stdout; exit 1 when one reaches `--fail-on` (default warning). Settings come
 * from `define({ lint })` and a `.wharf-lint.json` beside the definition (docs/lint.md).
 * `lintBuildInput` is the same front half for `wharf build`, which prints the findings once.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import {
  type BuildGraph,
  type EventSink,
  type Finding,
  lintDockerfile,
  lintGraph,
  WharfError,
} from '@wharf/core';
import type { ParseResult } from '@wharf/core/dockerfile';
import {
  formatFindings,
  LINT_CONFIG_FILE,
  LINT_FORMATS,
  type LintConfig,
  type LintFormat,
  lintRules,
  parseLintConfig,
  reaches,
  ruleDocsUrl,
  SEVERITIES,
  type Severity,
} from '@wharf/core/lint';
import { type Command, Option } from 'commander';
import { loadDefinition } from '../load-definition.js';
import { version } from '../version.js';
import { lockedBases } from './lock.js';

interface LintFlags {
  readonly file?: string;
  readonly format: LintFormat;
  readonly failOn: Severity;
  readonly target?: string;
}

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description('check a build.ts or Dockerfile against best practices (hadolint ids, BuildKit checks)')
    .argument('[definition]', 'the build definition', 'build.ts')
    .option('-f, --file <Dockerfile>', 'lint this Dockerfile instead of a build.ts')
    .addOption(new Option('--format <format>', 'output format').choices(LINT_FORMATS).default('text'))
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 when a finding is at least this severe')
        .choices(SEVERITIES)
        .default('warning'),
    )
    .option('--target <name>', 'the target to lint when the definition has several')
    .action(async (definition: string, flags: LintFlags) => {
      const findings = await lintBuildInput(
        flags.file === undefined
          ? { definition, target: flags.target }
          : { dockerfile: flags.file, target: flags.target },
      );
      process.stdout.write(
        formatFindings(findings, flags.format, { rules: lintRules, docsUrl: ruleDocsUrl, version }),
      );
      const failing = findings.filter((f) => reaches(f.severity, flags.failOn));
      if (failing.length > 0) {
        throw new WharfError(
          'LINT_FAILED',
          `${failing.length} finding${failing.length > 1 ? 's' : ''} at ${flags.failOn} or above`,
          { hint: 'fix them, turn rules off in .wharf-lint.json, or raise --fail-on' },
        );
      }
    });
}

export type LintInput =
  | { readonly dockerfile: string; readonly target?: string | undefined }
  | { readonly definition: string; readonly target?: string | undefined };

/** What `wharf build` has loaded already: the graph and `define({ lint })`, or with `-f` the Dockerfile. */
export interface LoadedInput {
  readonly graph: BuildGraph;
  readonly lint?: LintConfig | undefined;
  /** `-f`: the Dockerfile's text and the parse the build lowered (linted without reading or parsing again). */
  readonly dockerfile?: { readonly text: string; readonly parsed: ParseResult } | undefined;
}

/**
 * Lints a Dockerfile or a build definition with its configuration. For input already loaded
 * (`wharf build`), pass it to skip loading (or reading and parsing) it again.
 */
export async function lintBuildInput(input: LintInput, loaded?: LoadedInput): Promise<Finding[]> {
  if ('dockerfile' in input) {
    const code = 'LINT_DOCKERFILE_NOT_FOUND';
    const hint = 'pass the path of a Dockerfile: wharf lint -f Dockerfile';
    const given = loaded?.dockerfile;
    if (given) checkSize(input.dockerfile, Buffer.byteLength(given.text), code, hint);
    const text = given?.text ?? (await readInput(input.dockerfile, code, hint));
    const configs = await fileConfig(input.dockerfile);
    const pinned = await lockedBases(input.dockerfile);
    return lintDockerfile(text, {
      file: shown(input.dockerfile),
      configs,
      pinned,
      target: input.target,
      parsed: given?.parsed,
    });
  }
  const { graph, lint } = loaded ?? (await loadDefinition(input.definition, input.target));
  const path = resolve(input.definition);
  const text = await readInput(input.definition, 'DEFINITION_NOT_FOUND', 'pass the path of your build.ts');
  const configs = [
    ...(lint ? [{ config: lint, where: `define({ lint }) in ${shown(path)}` }] : []),
    ...(await fileConfig(path)),
  ];
  const pinned = await lockedBases(path);
  return lintGraph(graph, { configs, sources: { [path]: text }, pinned }).map((f) => ({
    ...f,
    file: shown(f.file),
  }));
}

/** `.wharf-lint.json` beside the definition or Dockerfile, when there is one. */
async function fileConfig(beside: string): Promise<{ config: LintConfig; where: string }[]> {
  const file = join(dirname(resolve(beside)), LINT_CONFIG_FILE);
  if (!existsSync(file)) return [];
  const text = await readInput(file, 'LINT_CONFIG', `fix or remove ${shown(file)}`);
  return [{ config: parseLintConfig(text, shown(file)), where: shown(file) }];
}

/** Definitions and Dockerfiles are small; a larger file is a mistake (or hostile), not something to load. */
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

async function readInput(file: string, code: string, hint: string): Promise<string> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (error) {
    throw new WharfError(code, `cannot read ${file}: ${(error as Error).message}`, { hint, cause: error });
  }
  checkSize(file, size, code, hint);
  return readFile(file, 'utf8');
}

function checkSize(file: string, size: number, code: string, hint: string): void {
  if (size > MAX_INPUT_BYTES) {
    throw new WharfError(code, `${file} is ${size} bytes: too large to lint (limit ${MAX_INPUT_BYTES})`, {
      hint,
    });
  }
}

/** A path as the user would type it from here. */
function shown(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel.startsWith('..') || rel === '' ? file : rel;
}

export type LintMode = 'warn' | 'error' | 'off';

/** `wharf build --lint`: print warning-level findings (default), fail on them, or skip linting. */
export function lintModeOption(): Option {
  return new Option(
    '--lint <mode>',
    'lint findings at warning or above: warn (print), error (fail the build), off',
  )
    .choices(['warn', 'error', 'off'])
    .default('warn');
}

/** What `wharf build` lints: its Dockerfile (`-f`) or its definition. */
export function lintInput(
  definition: string | undefined,
  flags: { readonly file?: string | undefined; readonly target?: string | undefined },
): LintInput {
  return flags.file === undefined
    ? { definition: definition ?? 'build.ts', target: flags.target }
    : { dockerfile: flags.file, target: flags.target };
}

/**
 * Before a build: reports the findings at warning or above once, as warning events (so `--progress`
 * decides how they look; `quiet` hides them); with `error`, fails when there are any.
 */
export async function lintBeforeBuild(
  mode: LintMode,
  input: LintInput,
  loaded: LoadedInput,
  onEvent: EventSink,
): Promise<void> {
  if (mode === 'off') return;
  const findings = (await lintBuildInput(input, loaded)).filter((f) => reaches(f.severity, 'warning'));
  for (const f of findings) {
    onEvent({
      type: 'warning',
      message: `${f.file}:${f.line}:${f.column}: ${f.rule}: ${f.message}`,
      ...(f.fix ? { hint: f.fix } : {}),
    });
  }
  const count = findings.length;
  if (mode === 'error' && count > 0) {
    throw new WharfError('LINT_FAILED', `lint: ${count} finding${count > 1 ? 's' : ''} at warning or above`, {
      hint: 'fix them (wharf lint explains each), turn rules off in .wharf-lint.json, or build with --lint=warn',
    });
  }
}
