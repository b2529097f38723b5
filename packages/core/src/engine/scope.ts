/**
 * ARG and ENV scoping as BuildKit has it:
 * - global ARGs (before the first FROM) are visible in FROM lines only, with `--build-arg` overriding
 *   their defaults, plus the predefined platform ARGs (TARGETPLATFORM, BUILDARCH, …);
 * - inside a stage an ARG must be declared to be visible: `ARG NAME` takes the build arg, else the global
 *   value of that name, else stays unset; `ARG NAME=default` takes the build arg, else its default;
 * - an ARG and an ENV of the same name: the later one wins, in expansion and in RUN's environment (BuildKit
 *   keeps both in one environment, each assignment replacing the value).
 */
import { expandWordWithUse, type Lookup } from '../ir/expand.js';
import type { ArgDecl } from '../ir/types.js';
import type { Platform } from '../oci/types.js';

/** `KEY=VALUE` lines → lookup; the last entry for a key wins. */
export function envLookup(env: readonly string[] | undefined): Lookup {
  const map = new Map<string, string>();
  for (const entry of env ?? []) {
    const at = entry.indexOf('=');
    if (at > 0) map.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return (name) => map.get(name);
}

/** The ARGs BuildKit defines for every build, from the target and build platforms. */
export function predefinedArgs(target: Platform, build: Platform): Record<string, string> {
  const format = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');
  return {
    TARGETPLATFORM: format(target),
    TARGETOS: target.os,
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? '',
    BUILDPLATFORM: format(build),
    BUILDOS: build.os,
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? '',
  };
}

/** Build args the user passed, and which of them something used (the rest are reported as unused). */
export class BuildArgs {
  readonly #values: ReadonlyMap<string, string>;
  readonly #consumed = new Set<string>();

  constructor(values: Readonly<Record<string, string>>) {
    this.#values = new Map(Object.entries(values));
  }

  get(name: string): string | undefined {
    const value = this.#values.get(name);
    if (value !== undefined) this.#consumed.add(name);
    return value;
  }

  /** Names passed with --build-arg that no ARG declared. */
  unused(): string[] {
    return [...this.#values.keys()].filter((name) => !this.#consumed.has(name));
  }
}

/** The global scope: global ARG values for FROM lines and for stage ARGs that re-declare them. */
export class GlobalScope {
  readonly values = new Map<string, string>();

  constructor(
    declarations: readonly ArgDecl[],
    readonly buildArgs: BuildArgs,
    readonly predefined: Readonly<Record<string, string>>,
  ) {
    for (const [name, value] of Object.entries(predefined))
      this.values.set(name, buildArgs.get(name) ?? value);
    for (const decl of declarations) {
      const value =
        buildArgs.get(decl.name) ?? (decl.default === undefined ? undefined : this.expand(decl.default));
      if (value === undefined) this.values.delete(decl.name);
      else this.values.set(decl.name, value);
    }
  }

  expand(word: string): string {
    return expandWordWithUse(word, (name) => this.values.get(name)).value;
  }
}

/** A stage's declared ARGs; with the stage's ENV it is the lookup for expanding the stage's Words. */
export class StageScope {
  readonly #args = new Map<string, string | undefined>();
  /** ARGs assigned a value after any ENV of their name: they win over that ENV. */
  readonly #argWins = new Set<string>();

  constructor(private readonly global: GlobalScope) {}

  /** Declares an ARG; `env` is the stage's ENV so far (for expanding the default). */
  declare(decl: ArgDecl, env: Lookup): void {
    const fromBuild = this.global.buildArgs.get(decl.name);
    if (fromBuild !== undefined) {
      this.#args.set(decl.name, fromBuild);
    } else if (decl.default !== undefined) {
      this.#args.set(decl.name, expandWordWithUse(decl.default, this.lookup(env)).value);
    } else {
      this.#args.set(decl.name, this.global.values.get(decl.name));
    }
    if (this.#args.get(decl.name) !== undefined) this.#argWins.add(decl.name);
  }

  /** An ENV instruction set these names: from now on the ENV value wins over an ARG of the name. */
  envSet(names: readonly string[]): void {
    for (const name of names) this.#argWins.delete(name);
  }

  /** The later of ENV and ARG of each name. */
  lookup(env: Lookup): Lookup {
    return (name) => (this.#argWins.has(name) ? this.#args.get(name) : (env(name) ?? this.#args.get(name)));
  }

  /** RUN's environment: the image's ENV and the declared ARGs, each name once, the later assignment winning. */
  runEnv(env: readonly string[]): string[] {
    const names = new Set(env.map((entry) => entry.slice(0, entry.indexOf('='))));
    return [
      ...this.argEnv().filter((entry) => !names.has(entry.slice(0, entry.indexOf('=')))),
      ...env.map((entry) => {
        const name = entry.slice(0, entry.indexOf('='));
        return this.#argWins.has(name) ? `${name}=${this.#args.get(name)}` : entry;
      }),
    ];
  }

  /** What the step cache must tell apart besides the values: which ARGs win over an ENV. */
  keyArgs(): string[] {
    return [...this.argEnv(), ...[...this.#argWins].map((name) => `!${name}`)];
  }

  /** Declared ARGs that have a value, as `KEY=VALUE` (RUN sees them as environment variables). */
  argEnv(): string[] {
    return [...this.#args].flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  }
}
