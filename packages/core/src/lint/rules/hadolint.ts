/**
 * hadolint's checks, under hadolint's ids (https://github.com/hadolint/hadolint/wiki/DLxxxx), written
 * for the IR — and aware of what hadolint cannot see: package caches in cache mounts leave nothing in a
 * layer, so DL3009/DL3019 stay quiet for them.
 */
import type { Instruction } from '../../ir/types.js';
import { programOf } from '../shell.js';
import {
  apkAdd,
  aptInstall,
  coveredBy,
  isAptCommand,
  normalizePath,
  npmInstall,
  pipInstall,
  scratchTargets,
} from './commands.js';
import { defineRule, finalInstructions, hit, imageBases, runCommands, splitImageRef } from './define.js';

const isAbsolute = (path: string) =>
  path.startsWith('/') || path.startsWith('$') || /^[A-Za-z]:[\\/]/.test(path);

export const DL3000 = defineRule<{ path: string }>({
  id: 'DL3000',
  source: 'hadolint',
  severity: 'error',
  summary: 'Use absolute WORKDIR',
  message: ({ path }) => `WORKDIR ${path} is relative: use an absolute path`,
  fix: ({ path }) => `WORKDIR /${path.replace(/^\.\//, '')}`,
  *check(ctx) {
    for (const { instruction: i } of ctx.instructions) {
      if (i.kind === 'workdir' && !isAbsolute(i.path)) yield hit(i.source, { path: i.path }, i.path);
    }
  },
});

const isRoot = (user: string) => /^(root|0)(:.*)?$/.test(user);

export const DL3002 = defineRule<{ user: string }>({
  id: 'DL3002',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Last USER should not be root',
  message: ({ user }) => `the final image's last USER is ${user}: the container runs as root`,
  fix: () => 'switch to an unprivileged user after the steps that need root, e.g. USER 10001',
  *check(ctx) {
    const last = finalInstructions(ctx).findLast((i) => i.instruction.kind === 'user')?.instruction;
    if (last?.kind === 'user' && isRoot(last.user)) yield hit(last.source, { user: last.user }, last.user);
  },
});

export const DL3003 = defineRule<Record<string, never>>({
  id: 'DL3003',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Use WORKDIR to switch to a directory',
  message: () => '`cd` in RUN changes the directory for this step only: use WORKDIR',
  fix: () => 'WORKDIR /path, or run the command in a subshell: (cd /path && make)',
  *check(ctx) {
    for (const { instruction, command } of runCommands(ctx)) {
      if (programOf(command) === 'cd' && !command.subshell) yield hit(instruction.source, {}, 'cd');
    }
  },
});

export const DL3004 = defineRule<Record<string, never>>({
  id: 'DL3004',
  source: 'hadolint',
  severity: 'error',
  summary: 'Do not use sudo',
  message: () => 'do not use sudo: RUN already runs as the current USER, and sudo behaves unpredictably here',
  fix: () => 'drop sudo; switch with USER root … USER app around the steps that need root',
  *check(ctx) {
    for (const { instruction, command } of runCommands(ctx)) {
      if (programOf(command) === 'sudo') yield hit(instruction.source, {}, 'sudo');
    }
  },
});

export const DL3006 = defineRule<{ ref: string }>({
  id: 'DL3006',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Always tag the version of an image explicitly',
  message: ({ ref }) => `FROM ${ref} has no tag: the build takes whatever "latest" is that day`,
  fix: ({ ref }) => `name a version: FROM ${ref}:<version> (and pin it by digest)`,
  *check(ctx) {
    for (const { stage, ref } of imageBases(ctx)) {
      const { tag, digest } = splitImageRef(ref);
      if (tag === undefined && digest === undefined) yield hit(stage.source, { ref }, ref);
    }
  },
});

export const DL3007 = defineRule<{ ref: string }>({
  id: 'DL3007',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Using latest is prone to errors if the image will ever update',
  message: ({ ref }) => `FROM ${ref}: "latest" changes under you`,
  fix: ({ ref }) =>
    `name a version instead of latest, or pin it: ${splitImageRef(ref).name}:<version>@sha256:…`,
  *check(ctx) {
    for (const { stage, ref } of imageBases(ctx)) {
      const { tag, digest } = splitImageRef(ref);
      if (tag === 'latest' && digest === undefined) yield hit(stage.source, { ref }, 'latest');
    }
  },
});

const pinned = (separators: RegExp) => (pkg: string) => separators.test(pkg);
const localFile = (pkg: string) =>
  pkg.includes('/') || pkg.startsWith('.') || /\.(deb|apk|whl|tar\.gz|tgz|zip)$/.test(pkg);

export const DL3008 = defineRule<{ pkg: string }>({
  id: 'DL3008',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Pin versions in apt-get install',
  message: ({ pkg }) =>
    `apt-get install ${pkg} is not pinned: the build installs whatever version is current`,
  fix: ({ pkg }) => `apt-get install ${pkg}=<version>`,
  *check(ctx) {
    for (const run of runCommands(ctx)) {
      const install = aptInstall(run.command);
      for (const pkg of install?.packages ?? []) {
        if (!pinned(/=/)(pkg) && !localFile(pkg)) yield hit(run.instruction.source, { pkg }, pkg);
      }
    }
  },
});

/** True when a RUN's `paths` are cleaned by an `rm` in the same RUN. */
function removes(commands: readonly { words: readonly string[] }[], paths: readonly string[]): boolean {
  return commands.some(
    (c) =>
      c.words[0] === 'rm' &&
      c.words.slice(1).some((w) => paths.includes(normalizePath(w.replace(/\*$/, '')))),
  );
}

export const DL3009 = defineRule<Record<string, never>>({
  id: 'DL3009',
  source: 'hadolint',
  severity: 'info',
  summary: 'Delete the apt-get lists after installing something',
  message: () => 'apt-get lists are left in the final image (about 40 MB)',
  fix: () =>
    'mount them as a cache (cache.apt(), or --mount=type=cache,target=/var/lib/apt,sharing=locked), or end the RUN with rm -rf /var/lib/apt/lists/*',
  *check(ctx) {
    for (const { instruction } of finalInstructions(ctx)) {
      if (instruction.kind !== 'run') continue;
      const commands = ctx.scriptsOf(instruction).flatMap((s) => s.commands);
      const aptUsed = commands.some((c) => isAptCommand(c, 'update') || isAptCommand(c, 'install'));
      if (!aptUsed || coveredBy('/var/lib/apt/lists', scratchTargets(instruction.mounts))) continue;
      if (removes(commands, ['/var/lib/apt/lists'])) continue;
      yield hit(instruction.source, {});
    }
  },
});

export const DL3013 = defineRule<{ pkg: string }>({
  id: 'DL3013',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Pin versions in pip',
  message: ({ pkg }) => `pip install ${pkg} is not pinned`,
  fix: ({ pkg }) => `pip install ${pkg}==<version>, or install from a requirements file with pinned versions`,
  *check(ctx) {
    for (const run of runCommands(ctx)) {
      for (const pkg of pipInstall(run.command)?.packages ?? []) {
        if (!/[=<>~!@]/.test(pkg) && !localFile(pkg) && !pkg.includes('://')) {
          yield hit(run.instruction.source, { pkg }, pkg);
        }
      }
    }
  },
});

export const DL3015 = defineRule<Record<string, never>>({
  id: 'DL3015',
  source: 'hadolint',
  severity: 'info',
  summary: 'Avoid additional packages by specifying --no-install-recommends',
  message: () => 'apt-get install without --no-install-recommends also installs recommended packages',
  fix: () => 'apt-get install --no-install-recommends …',
  *check(ctx) {
    for (const run of runCommands(ctx)) {
      const install = aptInstall(run.command);
      if (!install || install.packages.length === 0) continue;
      const words = run.command.words;
      const off =
        install.options.includes('--no-install-recommends') ||
        words.some((w) => /^APT::Install-Recommends=(false|0)$/i.test(w));
      if (!off) yield hit(run.instruction.source, {}, 'install');
    }
  },
});

/** `npm install` arguments that are not registry package names: paths, URLs, git specs, tarballs. */
const npmNonRegistry = (pkg: string) =>
  localFile(pkg) && !pkg.startsWith('@') ? true : /^(file:|git\+|git:|github:|https?:)|\.tgz$/.test(pkg);

export const DL3016 = defineRule<{ pkg: string }>({
  id: 'DL3016',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Pin versions in npm',
  message: ({ pkg }) => `npm install ${pkg} is not pinned`,
  fix: ({ pkg }) => `npm install ${pkg}@<version> (or list it in package.json and run npm ci)`,
  *check(ctx) {
    for (const run of runCommands(ctx)) {
      for (const pkg of npmInstall(run.command)?.packages ?? []) {
        if (npmNonRegistry(pkg)) continue;
        const versionAt = pkg.indexOf('@', pkg.startsWith('@') ? 1 : 0);
        if (versionAt < 0) yield hit(run.instruction.source, { pkg }, pkg);
      }
    }
  },
});

export const DL3018 = defineRule<{ pkg: string }>({
  id: 'DL3018',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Pin versions in apk add',
  message: ({ pkg }) => `apk add ${pkg} is not pinned`,
  fix: ({ pkg }) => `apk add ${pkg}=<version>`,
  *check(ctx) {
    for (const run of runCommands(ctx)) {
      for (const pkg of apkAdd(run.command)?.packages ?? []) {
        if (!/[=<>~]/.test(pkg) && !localFile(pkg)) yield hit(run.instruction.source, { pkg }, pkg);
      }
    }
  },
});

export const DL3019 = defineRule<Record<string, never>>({
  id: 'DL3019',
  source: 'hadolint',
  severity: 'info',
  summary: 'Use the --no-cache switch to avoid the need to use --update and remove /var/cache/apk/*',
  message: () => 'apk add without --no-cache leaves its package cache in the layer',
  fix: () => 'apk add --no-cache …, or mount /var/cache/apk as a cache',
  *check(ctx) {
    for (const run of runCommands(ctx)) {
      const add = apkAdd(run.command);
      if (!add || add.options.includes('--no-cache')) continue;
      if (coveredBy('/var/cache/apk', scratchTargets(run.instruction.mounts))) continue;
      const commands = ctx.scriptsOf(run.instruction).flatMap((s) => s.commands);
      if (removes(commands, ['/var/cache/apk'])) continue;
      yield hit(run.instruction.source, {}, 'add');
    }
  },
});

const archive = /\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst|gz|bz2|xz)$/i;
const remote = /^(https?:\/\/|git@|git:\/\/)|\.git(#.*)?$/;

export const DL3020 = defineRule<{ sources: string }>({
  id: 'DL3020',
  source: 'hadolint',
  severity: 'error',
  summary: 'Use COPY instead of ADD for files and folders',
  message: ({ sources }) =>
    `ADD ${sources}: use COPY for local files and folders (ADD also unpacks archives and fetches URLs)`,
  fix: ({ sources }) => `COPY ${sources} …`,
  *check(ctx) {
    for (const { instruction: i } of ctx.instructions) {
      if (i.kind !== 'add' || i.sources.length === 0) continue;
      if (i.sources.every((s) => !remote.test(s) && !archive.test(s))) {
        yield hit(i.source, { sources: i.sources.join(' ') });
      }
    }
  },
});

const commandKinds = new Set<Instruction['kind']>(['cmd', 'entrypoint']);

export const DL3025 = defineRule<{ keyword: string }>({
  id: 'DL3025',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Use arguments JSON notation for CMD and ENTRYPOINT arguments',
  message: ({ keyword }) => `${keyword} in shell form runs under /bin/sh -c, which does not pass signals on`,
  fix: ({ keyword }) => `${keyword} ["program", "arg"]`,
  *check(ctx) {
    for (const { instruction: i } of ctx.instructions) {
      if (commandKinds.has(i.kind) && 'command' in i && i.command.form === 'shell') {
        yield hit(i.source, { keyword: i.kind.toUpperCase() });
      }
    }
  },
});

const runOptions = (i: Instruction) =>
  i.kind === 'run' ? JSON.stringify([i.mounts ?? [], i.network ?? '', i.security ?? '']) : undefined;

export const DL3059 = defineRule<Record<string, never>>({
  id: 'DL3059',
  source: 'hadolint',
  severity: 'info',
  summary: 'Multiple consecutive RUN instructions. Consider consolidation.',
  message: () => 'this RUN follows another with the same options: each RUN is a layer',
  fix: () => 'join them with && into one RUN (unless the first is a deliberate cache point)',
  *check(ctx) {
    for (const stage of ctx.stages) {
      for (const [index, i] of stage.instructions.entries()) {
        const previous = stage.instructions[index - 1];
        if (previous && i.kind === 'run' && runOptions(previous) === runOptions(i)) yield hit(i.source, {});
      }
    }
  },
});

const pipefailSet = (shell: readonly string[]) =>
  shell.some((w, i) => w === 'pipefail' && shell[i - 1] === '-o');
const posixShell = (shell: readonly string[]) => /(^|\/)(sh|bash|ash|dash|zsh|ksh)$/.test(shell[0] ?? '');

export const DL4006 = defineRule<Record<string, never>>({
  id: 'DL4006',
  source: 'hadolint',
  severity: 'warning',
  summary: 'Set the SHELL option -o pipefail before RUN with a pipe in it',
  message: () => 'a pipe hides the failure of all but its last command',
  fix: () => 'SHELL ["/bin/bash", "-o", "pipefail", "-c"] before this RUN (or set -o pipefail in the script)',
  *check(ctx) {
    for (const { stage, instruction: i, index } of ctx.instructions) {
      if (i.kind !== 'run' || i.command.form !== 'shell') continue;
      const shell = ctx.shellAt(stage, index);
      if (pipefailSet(shell) || !posixShell(shell)) continue;
      const scripts = ctx.scriptsOf(i);
      const setsPipefail = scripts.some((s) =>
        s.commands.some((c) => c.words[0] === 'set' && c.words.includes('pipefail')),
      );
      if (!setsPipefail && scripts.some((s) => s.pipes)) yield hit(i.source, {}, '|');
    }
  },
});

export const hadolintRules = [
  DL3000,
  DL3002,
  DL3003,
  DL3004,
  DL3006,
  DL3007,
  DL3008,
  DL3009,
  DL3013,
  DL3015,
  DL3016,
  DL3018,
  DL3019,
  DL3020,
  DL3025,
  DL3059,
  DL4006,
];
