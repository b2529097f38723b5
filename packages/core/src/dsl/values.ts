/**
 * The small reference values the DSL passes around: images, contexts, shell-form commands and mounts.
 * Each carries a brand (`Symbol.for`) so values made by another copy of @wharf/core are still recognised.
 */
import type { Command, ContextSpec, Heredoc, Mount } from '../ir/types.js';
import { checkOptions, optionNames, usage } from './usage.js';

export const IMAGE_BRAND = Symbol.for('wharf.image');
export const CONTEXT_BRAND = Symbol.for('wharf.context');
export const SHELL_BRAND = Symbol.for('wharf.shell');
export const MOUNT_BRAND = Symbol.for('wharf.mount');
export const HEREDOC_BRAND = Symbol.for('wharf.heredoc');

/** An image reference used as a source (`COPY --from=<image>`, `RUN --mount=from=<image>`). */
export interface ImageValue {
  readonly [IMAGE_BRAND]: true;
  readonly ref: string;
}

/**
 * A reference to an image, for `copy(image('nginx:1.27'), '/etc/nginx', '/etc/nginx')`.
 * @example stage('app').from('alpine:3.20').copy(image('busybox:1.36'), '/bin/busybox', '/bin/')
 */
export function image(ref: string): ImageValue {
  return { [IMAGE_BRAND]: true, ref };
}

/**
 * A build context: the main one (`define({ context })`) or a named one used as a COPY source. Made by
 * `context()`.
 * @example define({ target: app, context: context('.').ignore(['node_modules']) })
 */
export class ContextValue {
  readonly [CONTEXT_BRAND] = true as const;
  constructor(
    readonly dir: string,
    readonly name: string | undefined,
    readonly ignorePatterns: readonly string[] | undefined,
  ) {}

  /**
   * Returns a context with these `.dockerignore` patterns (they replace any `.dockerignore` file).
   * @example context('.').ignore(['node_modules', '.git', '*.log'])
   */
  ignore(patterns: readonly string[]): ContextValue {
    return new ContextValue(this.dir, this.name, [...(this.ignorePatterns ?? []), ...patterns]);
  }

  /**
   * The context as IR.
   * @example context('.').ignore(['.git']).toSpec() // { dir: '.', ignore: ['.git'] }
   */
  toSpec(): ContextSpec {
    return this.ignorePatterns === undefined
      ? { dir: this.dir }
      : { dir: this.dir, ignore: [...this.ignorePatterns] };
  }
}

export interface ContextOptions {
  /** Name for `COPY --from=<name>` (buildx `--build-context name=dir`); default: the folder's base name. */
  readonly name?: string;
}

/**
 * A build context directory, relative to the build definition's folder.
 * @example
 * define({ target: app, context: context('.').ignore(['node_modules', '.git']) })
 * stage('app').from('alpine').copy(context('../shared', { name: 'shared' }), 'config/', '/etc/app/')
 */
export function context(dir: string, options: ContextOptions = {}): ContextValue {
  if (typeof dir !== 'string' || dir === '') usage('context()', 'expects a directory', "context('.')");
  checkOptions('context()', options, optionNames<ContextOptions>({ name: true }));
  return new ContextValue(dir, options.name, undefined);
}

/** A shell-form command (`CMD node server.js`), for the places that default to exec form. */
export interface ShellForm {
  readonly [SHELL_BRAND]: true;
  readonly script: string;
}

/**
 * Marks a command as shell form. CMD, ENTRYPOINT and HEALTHCHECK take exec-form arrays by default,
 * because shell form runs the program under `/bin/sh -c`, which swallows signals.
 * @example stage('x').from('alpine').cmd(sh('echo "$HOME"'))
 */
export function sh(script: string): ShellForm {
  return { [SHELL_BRAND]: true, script };
}

export function isShellForm(value: unknown): value is ShellForm {
  return typeof value === 'object' && value !== null && SHELL_BRAND in value;
}

export function isImageValue(value: unknown): value is ImageValue {
  return typeof value === 'object' && value !== null && IMAGE_BRAND in value;
}

export function isContextValue(value: unknown): value is ContextValue {
  return typeof value === 'object' && value !== null && CONTEXT_BRAND in value;
}

/** A file written from text by COPY/ADD (a Dockerfile heredoc source, `COPY <<EOT /dest`). */
export interface HeredocValue {
  readonly [HEREDOC_BRAND]: true;
  readonly heredoc: Heredoc;
}

export interface HeredocOptions {
  /** Expand `$VAR`s in the content with the stage's ARG and ENV values (an unquoted `<<EOT`). */
  readonly expand?: boolean;
  /** Strip leading tabs from each line (`<<-EOT`). */
  readonly chomp?: boolean;
}

/**
 * A file named `name` with exactly this content, as a COPY/ADD source (the Dockerfile's `COPY <<name dest`).
 * @example stage('app').from('alpine').copy(heredoc('hello.sh', '#!/bin/sh\necho hi\n'), '/usr/local/bin/')
 */
export function heredoc(name: string, content: string, options: HeredocOptions = {}): HeredocValue {
  checkOptions('heredoc()', options, optionNames<HeredocOptions>({ expand: true, chomp: true }));
  if (!/^[A-Za-z0-9_.-]+$/.test(name ?? '') || typeof content !== 'string') {
    usage(
      'heredoc()',
      'expects a file name (letters, digits, "_", "-", ".") and the content',
      "heredoc('hello.sh', '#!/bin/sh\\necho hi\\n')",
    );
  }
  return {
    [HEREDOC_BRAND]: true,
    heredoc: { name, content, expand: options.expand ?? false, chomp: options.chomp ?? false },
  };
}

export function isHeredocValue(value: unknown): value is HeredocValue {
  return typeof value === 'object' && value !== null && HEREDOC_BRAND in value;
}

/** Converts an exec array or `sh()` value to an IR command. */
export function toCommand(value: readonly string[] | ShellForm): Command {
  return isShellForm(value) ? { form: 'shell', script: value.script } : { form: 'exec', argv: [...value] };
}

export type { Mount };
