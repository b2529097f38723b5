/**
 * Package-manager command lines as rules see them: which packages an `apt-get install`, `apk add`,
 * `pip install` or `npm install` names, and with which options. Words holding `$` are left out (their
 * value is not known here).
 */
import type { Mount } from '../../ir/types.js';
import { programOf, type SimpleCommand } from '../shell.js';

export interface PackageCommand {
  readonly command: SimpleCommand;
  /** Option words (`--no-cache`, `-y`, `--virtual=x`). */
  readonly options: readonly string[];
  /** Package arguments. */
  readonly packages: readonly string[];
}

/**
 * Splits the words after a subcommand into options and arguments. `valued` lists the options that
 * take the next word as their value when written without `=`.
 */
function split(words: readonly string[], valued: ReadonlySet<string>): Omit<PackageCommand, 'command'> {
  const options: string[] = [];
  const packages: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word.startsWith('-')) {
      options.push(word);
      if (valued.has(word)) i++;
    } else if (!word.includes('$')) {
      packages.push(word);
    }
  }
  return { options, packages };
}

/** The words after `subcommand` when `command` is `<program> [options] <subcommand> …`. */
function after(command: SimpleCommand, subcommands: readonly string[], valued: ReadonlySet<string>) {
  const words = command.words;
  for (let i = 1; i < words.length; i++) {
    const word = words[i] as string;
    if (word.startsWith('-')) {
      if (valued.has(word)) i++;
      continue;
    }
    return subcommands.includes(word) ? words.slice(i + 1) : undefined;
  }
  return undefined;
}

const APT_VALUED = new Set(['-o', '-t', '-c', '--option', '--target-release', '--config-file']);
export function aptInstall(command: SimpleCommand): PackageCommand | undefined {
  if (!['apt-get', 'apt'].includes(programOf(command))) return undefined;
  const rest = after(command, ['install'], APT_VALUED);
  return rest && { command, ...split(rest, APT_VALUED) };
}

export function isAptCommand(command: SimpleCommand, subcommand: 'update' | 'install'): boolean {
  return (
    ['apt-get', 'apt'].includes(programOf(command)) && after(command, [subcommand], APT_VALUED) !== undefined
  );
}

const APK_VALUED = new Set(['-t', '--virtual', '-X', '--repository', '-p', '--root', '--arch']);
export function apkAdd(command: SimpleCommand): PackageCommand | undefined {
  if (programOf(command) !== 'apk') return undefined;
  const rest = after(command, ['add'], APK_VALUED);
  return rest && { command, ...split(rest, APK_VALUED) };
}

const PIP_VALUED = new Set([
  '-r',
  '--requirement',
  '-c',
  '--constraint',
  '-e',
  '--editable',
  '-i',
  '--index-url',
  '--extra-index-url',
  '-f',
  '--find-links',
  '-t',
  '--target',
  '--prefix',
  '--root',
  '--platform',
  '--python-version',
  '--implementation',
  '--abi',
  '--trusted-host',
  '--cache-dir',
  '--src',
  '--progress-bar',
]);
export function pipInstall(command: SimpleCommand): PackageCommand | undefined {
  const program = programOf(command);
  let words = command.words;
  if (/^python[\d.]*$/.test(program) && words[1] === '-m' && /^pip[\d.]*$/.test(words[2] ?? '')) {
    words = words.slice(2);
  } else if (!/^pip[\d.]*$/.test(program)) {
    return undefined;
  }
  const rest = after({ ...command, words }, ['install'], PIP_VALUED);
  return rest && { command, ...split(rest, PIP_VALUED) };
}

const NPM_VALUED = new Set(['--prefix', '-w', '--workspace', '--registry', '--cache', '--omit', '--include']);
export function npmInstall(command: SimpleCommand): PackageCommand | undefined {
  if (programOf(command) !== 'npm') return undefined;
  const rest = after(command, ['install', 'i', 'add', 'isntall', 'in'], NPM_VALUED);
  return rest && { command, ...split(rest, NPM_VALUED) };
}

/**
 * Normalised mount targets a RUN writes through without touching the image: cache and tmpfs mounts
 * (a package cache there never reaches a layer).
 */
export function scratchTargets(mounts: readonly Mount[] | undefined): string[] {
  return (mounts ?? [])
    .filter((m) => m.type === 'cache' || m.type === 'tmpfs')
    .map((m) => normalizePath((m as { target: string }).target));
}

/** True when `path` lies inside one of `targets` (or is one). */
export function coveredBy(path: string, targets: readonly string[]): boolean {
  return targets.some((t) => t === '/' || path === t || path.startsWith(`${t}/`));
}

export function normalizePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '').replace(/\/+/g, '/');
  return trimmed === '' ? '/' : trimmed;
}
