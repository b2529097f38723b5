/**
 * `wharf bake [build.ts] [TARGET|GROUP…]`: every chosen target of a build.ts in one process over
 * `bake()` (shared stages built once, each blob uploaded once per registry), with `--set`, `--push`,
 * `--print`, `--metadata-file`, `--sbom`/`--provenance`/`--sign` (as `wharf build`'s, for every target) and a
 * summary table on stderr.
 */
import { existsSync, statSync } from 'node:fs';
import { bake } from '@wharf/core';
import { type BakeResult, bakeMetadata, planJson, resolvePlan } from '@wharf/core/bake';
import { parseOutput } from '@wharf/core/export';
import { type Command, Option } from 'commander';
import { collect, parseAllow, parseBuildArgs, parseSecrets } from '../flags.js';
import { interruptSignal } from '../interrupt.js';
import { loadDefinitionValue } from '../load-definition.js';
import { PROGRESS_MODES, type ProgressMode, progressSink } from '../render/progress.js';
import { formatBytes } from '../render/size.js';
import { writeFileAtomic } from '../write-file.js';
import { type AttestFlags, parseAttestFlags, provenanceOption, sbomOption, signOption } from './attest.js';
import { caFileOption, insecureRegistryOption, registryMirrorOption, registrySettings } from './build.js';

interface BakeFlags extends AttestFlags {
  readonly set?: string[];
  readonly push?: boolean;
  readonly print?: boolean;
  readonly metadataFile?: string;
  readonly progress: ProgressMode;
  readonly cacheDir?: string;
  readonly cache: boolean;
  readonly pull?: boolean;
  readonly buildArg?: string[];
  readonly secret?: string[];
  readonly allow?: string[];
  readonly registryMirror?: string[];
  readonly insecureRegistry?: string[];
  readonly caFile?: string;
  readonly backend: 'direct' | 'docker';
  readonly changedSince?: string;
  readonly cacheFrom?: string[];
  readonly cacheTo?: string[];
}

export function registerBake(program: Command): void {
  program
    .command('bake')
    .description(
      'build several targets of a build.ts in one run: shared stages once, shared layers uploaded once',
    )
    .argument(
      '[names...]',
      'build.ts (default ./build.ts), then targets or groups (default: group "default", else all)',
    )
    .option(
      '--set <target.key=value>',
      'override a target: tags, platforms, output, args.NAME, labels.NAME (target * for all; repeatable)',
      collect,
    )
    .option('--push', 'push every target to its tags (adds -o type=registry to each)')
    .option('--print', 'print the resolved plan as JSON and build nothing')
    .option(
      '--changed-since <ref>',
      'build only the targets whose inputs (context files they read, build.ts and its imports) changed since a git ref',
    )
    .option('--metadata-file <file>', "write each target's digest, names and pushed references as JSON")
    .addOption(
      new Option('--progress <mode>', 'auto | plain | tty | json | quiet')
        .choices(PROGRESS_MODES)
        .default('auto'),
    )
    .addOption(
      new Option('--backend <name>', 'direct (no daemon) | docker (docker build with BuildKit, per target)')
        .choices(['direct', 'docker'])
        .default('direct'),
    )
    .option('--cache-dir <dir>', 'where blobs are kept (default: $XDG_CACHE_HOME/wharf)')
    .option('--no-cache', 'run every step again (results are still cached for next time)')
    .option(
      '--cache-from <type=registry,ref=REF|type=local,src=DIR>',
      "import a step cache for every target, replacing the targets' own (repeatable; docs/remote-cache.md)",
      collect,
    )
    .option(
      '--cache-to <type=registry,ref=REF|type=local,dest=DIR>',
      "export every target's step cache, replacing the targets' own (repeatable; one ref per target keeps each)",
      collect,
    )
    .option('--build-arg <name=value>', 'a build argument for every target (repeatable)', collect)
    .option('--pull', 'ask the registry for every base image tag (default: reuse one pulled before)')
    .option('--secret <id=…,src=…|env=…>', 'a secret for RUN --mount=type=secret (repeatable)', collect)
    .option('--allow <entitlement>', 'grant network.host or security.insecure (repeatable)', collect)
    .addOption(registryMirrorOption())
    .addOption(insecureRegistryOption())
    .addOption(caFileOption())
    .addOption(sbomOption())
    .addOption(provenanceOption())
    .addOption(signOption())
    .action(async (names: string[], flags: BakeFlags) => {
      const [first, ...rest] = names;
      const isFile = first !== undefined && (/\.(m?[jt]s)$/.test(first) || isRegularFile(first));
      const file = isFile ? first : 'build.ts';
      const targets = isFile ? rest : names;
      const allow = parseAllow(flags.allow);
      const { definition, dir } = await loadDefinitionValue(
        file,
        flags.cacheDir ? { cacheDir: flags.cacheDir } : {},
      );
      const choice = {
        targets,
        ...(flags.set ? { set: flags.set } : {}),
        ...(flags.push ? { push: true } : {}),
        ...(flags.cacheFrom ? { cacheFrom: flags.cacheFrom } : {}),
        ...(flags.cacheTo ? { cacheTo: flags.cacheTo } : {}),
      };
      if (flags.print) {
        process.stdout.write(planJson(resolvePlan(definition, choice)));
        return;
      }
      // --sbom/--provenance/--sign: a target must push or write a layout; the key is checked before any work
      const plan = resolvePlan(definition, choice);
      const attestation = parseAttestFlags(
        flags,
        Object.values(plan.target).some((t) =>
          t.output.some((o) => ['registry', 'oci'].includes(parseOutput(o).type)),
        ),
      );
      const progress = progressSink(flags.progress);
      let result: BakeResult;
      try {
        result = await bake(definition, {
          ...choice,
          contextDir: dir,
          buildArgs: parseBuildArgs(flags.buildArg),
          backend: flags.backend,
          ...(flags.changedSince !== undefined ? { changedSince: flags.changedSince } : {}),
          noCache: !flags.cache,
          pull: flags.pull ?? false,
          secrets: parseSecrets(flags.secret),
          allow,
          ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
          registry: registrySettings(flags),
          definitionFile: file,
          ...(attestation.sbom ? { sbom: attestation.sbom } : {}),
          ...(attestation.provenance ? { provenance: attestation.provenance } : {}),
          ...(attestation.sign ? { sign: attestation.sign } : {}),
          signal: interruptSignal(),
          onEvent: progress.sink,
        });
      } finally {
        progress.close();
      }
      if (flags.metadataFile) {
        await writeFileAtomic(flags.metadataFile, `${JSON.stringify(bakeMetadata(result), null, 2)}\n`);
      }
      if (flags.progress !== 'quiet') process.stderr.write(summary(result));
      // stdout: one line per target, `target digest`, for scripts.
      for (const [name, target] of Object.entries(result.targets))
        process.stdout.write(`${name} ${target.digest}\n`);
    });
}

/** `cached/all` over the steps that make layers (config-only steps such as CMD are never cached). */
function cachedOfLayerSteps(steps: BakeResult['targets'][string]['steps']): string {
  const layered = steps.filter((s) => /^(RUN|COPY|ADD|WORKDIR)\b/.test(s.text));
  return `${layered.filter((s) => s.cached).length}/${layered.length}`;
}

function isRegularFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * The table at the end: target, digest, size, cached steps, pushed references; then the push totals.
 * With --changed-since, first a line per target: built or skipped, and why.
 */
export function summary(result: BakeResult): string {
  const changes = Object.entries(result.changes ?? {}).map(
    ([name, c]) => `${name}: ${c.build ? 'built' : 'skipped'} — ${c.reason}`,
  );
  const rows = [
    ['TARGET', 'DIGEST', 'SIZE', 'CACHED', 'PUSHED'],
    ...Object.entries(result.targets).map(([name, t]) => [
      name,
      t.digest.slice(0, 19),
      t.size === undefined ? '-' : formatBytes(t.size),
      cachedOfLayerSteps(t.steps),
      t.pushed.length ? t.pushed.map((r) => r.replace(/@sha256:.*$/, '')).join(' ') : '-',
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const lines = rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  const s = result.pushStats;
  if (s) {
    lines.push(
      `pushed: ${s.uploaded} blobs uploaded (${formatBytes(s.bytesSent)}), ${s.mounted} mounted (${formatBytes(s.bytesMounted)}), ${s.existing} already there (${formatBytes(s.bytesExisting)})`,
    );
  }
  return `${[...changes, ...lines].join('\n')}\n`;
}
