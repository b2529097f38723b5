/**
 * wharf's own rules: practices neither hadolint nor BuildKit checks, each documented in docs/lint.md.
 */
import type { CopyInstruction, SecretMount } from '../../ir/types.js';
import { programOf, type SimpleCommand } from '../shell.js';
import { npmInstall, pipInstall } from './commands.js';
import { defineRule, finalInstructions, hit, imageBases, splitImageRef } from './define.js';

export const RunsAsRoot = defineRule<{ stage: string }>({
  id: 'RunsAsRoot',
  source: 'wharf',
  severity: 'warning',
  summary: 'The final image should set a non-root USER',
  message: ({ stage }) =>
    `the final image (stage "${stage}") sets no USER: its process runs as root unless the base says otherwise`,
  fix: () =>
    'create a user and switch to it last: RUN adduser -D -u 10001 app … USER 10001 (nonRootUser(stage) in build.ts)',
  *check(ctx) {
    if (ctx.final.base.kind === 'scratch' && ctx.final.instructions.length === 0) return;
    if (!finalInstructions(ctx).some((i) => i.instruction.kind === 'user')) {
      yield hit(ctx.finalLocation, { stage: ctx.final.name });
    }
  },
});

export const ServiceWithoutHealthcheck = defineRule<{ ports: string }>({
  id: 'ServiceWithoutHealthcheck',
  source: 'wharf',
  severity: 'warning',
  summary: 'An image that EXPOSEs a port should say how to check it is healthy',
  message: ({ ports }) => `the final image exposes ${ports} but has no HEALTHCHECK`,
  fix: () =>
    'HEALTHCHECK CMD ["wget", "-qO-", "http://127.0.0.1:3000/health"] (healthcheck(http(3000, "/health")) in build.ts), or HEALTHCHECK NONE',
  *check(ctx) {
    const items = finalInstructions(ctx).map((i) => i.instruction);
    const exposes = items.filter((i) => i.kind === 'expose');
    const last = exposes.at(-1);
    if (!last || items.some((i) => i.kind === 'healthcheck')) return;
    const ports = exposes.flatMap((i) => (i.kind === 'expose' ? i.ports : [])).join(', ');
    yield hit(last.source, { ports });
  },
});

export const BaseNotPinnedByDigest = defineRule<{ ref: string }>({
  id: 'BaseNotPinnedByDigest',
  source: 'wharf',
  severity: 'info',
  summary: 'Base images should be pinned by digest',
  message: ({ ref }) =>
    `FROM ${ref} is not pinned by digest: the same build can get a different base tomorrow`,
  fix: ({ ref }) => `run wharf lock (pins it in wharf.lock), or write FROM ${ref}@sha256:<digest>`,
  *check(ctx) {
    for (const { stage, ref } of imageBases(ctx)) {
      if (splitImageRef(ref).digest === undefined && !ctx.pinnedElsewhere(ref)) {
        yield hit(stage.source, { ref }, ref);
      }
    }
  },
});

/** Dependency installs that only need the manifest files, not the sources. */
function dependencyInstall(command: SimpleCommand): string | undefined {
  const program = programOf(command);
  const [, sub = ''] = command.words;
  const npm = npmInstall(command);
  // `--offline` installs from what an earlier `pnpm fetch` (or similar) downloaded: nothing to re-download.
  if (command.words.includes('--offline')) return undefined;
  if (program === 'npm' && (sub === 'ci' || (npm && npm.packages.length === 0))) return `npm ${sub}`;
  if (
    (program === 'yarn' && (sub === '' || sub === 'install')) ||
    (program === 'pnpm' && ['install', 'i'].includes(sub))
  ) {
    return `${program} install`;
  }
  const pip = pipInstall(command);
  if (pip?.options.some((o) => o === '-r' || o === '--requirement' || o.startsWith('--requirement='))) {
    return 'pip install -r';
  }
  const pairs: Record<string, string[]> = {
    poetry: ['install'],
    pipenv: ['install', 'sync'],
    uv: ['sync'],
    bundle: ['install'],
    composer: ['install'],
    go: ['mod'],
    cargo: ['fetch'],
  };
  if (pairs[program]?.includes(sub) && (program !== 'go' || command.words[2] === 'download')) {
    return command.words.slice(0, program === 'go' ? 3 : 2).join(' ');
  }
  return undefined;
}

const copiesAllSources = (i: CopyInstruction) =>
  i.from === undefined && i.sources.some((s) => s === '.' || s === './' || s === '*' || s === './*');

export const SourcesCopiedBeforeDependencies = defineRule<{ install: string }>({
  id: 'SourcesCopiedBeforeDependencies',
  source: 'wharf',
  severity: 'warning',
  summary: 'Copy the dependency manifests and install before copying the sources',
  message: ({ install }) =>
    `all sources are copied before \`${install}\`: any source change re-runs the dependency install`,
  fix: ({ install }) =>
    `copy only the manifests first (e.g. COPY package.json package-lock.json ./), run ${install}, then COPY . .`,
  *check(ctx) {
    for (const stage of ctx.stages) {
      const copyAt = stage.instructions.findIndex((i) => i.kind === 'copy' && copiesAllSources(i));
      const copy = stage.instructions[copyAt];
      if (!copy) continue;
      for (const later of stage.instructions.slice(copyAt + 1)) {
        if (later.kind !== 'run') continue;
        const install = ctx
          .scriptsOf(later)
          .flatMap((s) => s.commands)
          .map(dependencyInstall)
          .find((x) => x !== undefined);
        if (install) {
          yield hit(copy.source, { install });
          break;
        }
      }
    }
  },
});

const OCI_LABELS = ['org.opencontainers.image.source', 'org.opencontainers.image.title'];

export const MissingOciLabels = defineRule<{ missing: string[] }>({
  id: 'MissingOciLabels',
  source: 'wharf',
  severity: 'info',
  summary: 'The final image should carry the OCI source and title labels',
  message: ({ missing }) => `the final image has no ${missing.join(' or ')} label`,
  fix: () =>
    'LABEL org.opencontainers.image.source=<repository URL> org.opencontainers.image.title=<name> (.label(ociLabels({ … })) in build.ts)',
  *check(ctx) {
    const set = new Set(
      finalInstructions(ctx).flatMap((i) =>
        i.instruction.kind === 'label' ? i.instruction.labels.map((l) => l.key) : [],
      ),
    );
    const missing = OCI_LABELS.filter((l) => !set.has(l));
    if (missing.length) yield hit(ctx.finalLocation, { missing });
  },
});

/** The secret's file path inside the step, or its environment variable. */
function secretHandles(mount: SecretMount): { file: string | undefined; env: string | undefined } {
  const file = mount.target ?? (mount.env === undefined && mount.id ? `/run/secrets/${mount.id}` : undefined);
  return { file, env: mount.env };
}

const COPIERS = new Set(['cp', 'install', 'rsync', 'ln', 'tee', 'dd']);

/** True when a command writes a secret (its file or variable) to some other file. */
function leaks(command: SimpleCommand, file: string | undefined, env: string | undefined): boolean {
  const mentions = (w: string) =>
    (file !== undefined && (w === file || w.startsWith(`${file}`) || w.includes(`if=${file}`))) ||
    (env !== undefined && (w.includes(`$${env}`) || w.includes(`\${${env}}`)));
  if (!command.words.some(mentions)) return false;
  return COPIERS.has(programOf(command)) || command.writes.some((w) => !w.startsWith('/dev/'));
}

export const SecretCopiedIntoLayer = defineRule<{ id: string }>({
  id: 'SecretCopiedIntoLayer',
  source: 'wharf',
  severity: 'error',
  summary: "A secret mount's content must not be written into the image",
  message: ({ id }) => `this RUN writes secret "${id}" to a file, which lands in the layer and the image`,
  fix: () =>
    'read the secret where it is mounted (or through env=) in the command that needs it, and write nothing',
  *check(ctx) {
    for (const { instruction: i } of ctx.instructions) {
      if (i.kind !== 'run') continue;
      for (const mount of i.mounts ?? []) {
        if (mount.type !== 'secret') continue;
        const { file, env } = secretHandles(mount);
        const commands = ctx.scriptsOf(i).flatMap((s) => s.commands);
        if (commands.some((c) => leaks(c, file, env))) {
          yield hit(i.source, { id: mount.id ?? file ?? env ?? 'secret' }, file);
        }
      }
    }
  },
});

export const wharfRules = [
  RunsAsRoot,
  ServiceWithoutHealthcheck,
  BaseNotPinnedByDigest,
  SourcesCopiedBeforeDependencies,
  MissingOciLabels,
  SecretCopiedIntoLayer,
];
