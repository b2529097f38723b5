/**
 * `define()` and `toGraph()`: from DSL values to the IR.
 *
 * `toGraph` walks the target's chain and every stage it references (FROM a stage, COPY --from, RUN
 * --mount from=…), depth first, so each stage lands after the stages it uses. Stage values with the
 * same content are one stage; two different stages with one name are an error. Anonymous stages get
 * `stage-N` by their position.
 */
import { unknownNameHint, WharfError } from '../errors.js';
import { stageNamePattern } from '../ir/graph.js';
import type {
  ArgDecl,
  BaseRef,
  BuildGraph,
  ContextSpec,
  Directives,
  FromRef,
  Instruction,
  Mount,
  Stage as StageIR,
} from '../ir/types.js';
import { parsePlatform } from '../oci/index.js';
import { callSite } from './call-site.js';
import type { MountDraft } from './mounts.js';
import { type DraftFrom, type DraftInstruction, isStage, type Stage } from './stage.js';
import { describe } from './usage.js';
import { type ContextValue, isContextValue, isImageValue } from './values.js';

/**
 * A target of `define({ targets })` with what `wharf bake` / `bake()` needs to build and publish it:
 * its tags, platforms, build args, labels and outputs. A bare stage is a target with none of these.
 * @example define({ targets: { api: { stage: api, tags: ['registry.example.com/api:1.0'], platforms: ['linux/amd64'] } } })
 */
export interface TargetSpec {
  readonly stage: Stage;
  /** Image names (`registry.example.com/api:1.0`); `wharf bake --push` pushes to each. */
  readonly tags?: readonly string[];
  /** Platforms to build (`linux/amd64`); several make one OCI index. */
  readonly platforms?: readonly string[];
  /** Build args for this target (over the definition's `args` defaults). */
  readonly args?: Readonly<Record<string, string>>;
  /** Labels added to this target's image config. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Outputs (`-o` text: `type=oci-archive,dest=out/api.tar`). */
  readonly output?: string | readonly string[];
  /** Build caches to import for this target, as `--cache-from` takes them; replace `define({ cacheFrom })` for it. */
  readonly cacheFrom?: readonly string[];
  /** Where to export this target's build cache, as `--cache-to` takes it; replaces `define({ cacheTo })` for it. */
  readonly cacheTo?: readonly string[];
}

const TARGET_KEYS = ['stage', 'tags', 'platforms', 'args', 'labels', 'output', 'cacheFrom', 'cacheTo'];

export interface DefinitionInput {
  /** The stage to build by default. */
  readonly target?: Stage;
  /**
   * Named targets (pick one with `--target`). With `target` too, they are the other stages a user may
   * build (`docker build --target test`); without it, the one to build must be chosen when there are several.
   */
  readonly targets?: Readonly<Record<string, Stage | TargetSpec>>;
  /**
   * Named lists of targets for `wharf bake` (`default` is built when no target is named), like bake's.
   * @example define({ targets: { api, web, test }, groups: { default: ['api', 'web'] } })
   */
  readonly groups?: Readonly<Record<string, readonly string[]>>;
  /**
   * Global ARGs (usable in FROM lines) with their defaults; `undefined` for no default. As a list of
   * `[name, default?]` pairs a name may repeat (`ARG X=one` then `ARG X=${X}-two`), each default expanded
   * against the ones before it.
   */
  readonly args?:
    | Readonly<Record<string, string | undefined>>
    | readonly (readonly [name: string, defaultValue?: string])[];
  /** The main build context; default `context('.')` (the definition's folder, its own `.dockerignore`). */
  readonly context?: ContextValue;
  /**
   * `wharf lint` settings per rule (docs/lint.md); a `.wharf-lint.json` beside the definition wins.
   * @example define({ target: app, lint: { rules: { DL3008: 'off', BaseNotPinnedByDigest: 'warning' } } })
   */
  readonly lint?: {
    readonly rules?: Readonly<
      Record<string, 'off' | 'on' | 'error' | 'warning' | 'info' | 'style' | boolean>
    >;
  };
  /** Dockerfile parser directives to keep in the emitted Dockerfile (`# syntax=…`, `# check=…`). */
  readonly directives?: Directives;
  /**
   * The platforms to build when none is asked for (`wharf build` without `--platform`, `build()`
   * without `platforms`): several make one OCI index. A target's own `platforms` win for it. Not part
   * of the emitted Dockerfile (a Dockerfile cannot say it): pass `--platform` to `docker build`.
   * @example define({ target: app, platforms: ['linux/amd64', 'linux/arm64'] })
   */
  readonly platforms?: readonly string[];
  /**
   * Remote build caches to import, as `--cache-from` takes them (docs/remote-cache.md); `--cache-from`
   * on the command line, or `build()`'s `cacheFrom`, replaces them. For `bake`, the default of every
   * target that names none of its own.
   * @example define({ target: app, cacheFrom: ['type=registry,ref=registry.example.com/app:cache'] })
   */
  readonly cacheFrom?: readonly string[];
  /**
   * Where to export the build cache, as `--cache-to` takes it; `--cache-to` or `build()`'s `cacheTo`
   * replaces it. For `bake`, the default of every target that names none of its own.
   * @example define({ target: app, cacheTo: ['type=registry,ref=registry.example.com/app:cache,mode=max,mounts=true'] })
   */
  readonly cacheTo?: readonly string[];
}

const DEFINITION_KEYS = [
  'target',
  'targets',
  'groups',
  'args',
  'context',
  'directives',
  'lint',
  'platforms',
  'cacheFrom',
  'cacheTo',
];

export const DEFINITION_BRAND = Symbol.for('wharf.definition');

/**
 * A whole build, made by `define()`: what a build.ts exports by default, and what `build()`, `toGraph()`
 * and the CLI take.
 * @example export default define({ target: app, targets: { test } });
 */
export interface Definition extends DefinitionInput {
  readonly [DEFINITION_BRAND]: true;
}

/**
 * A whole build: targets, global ARGs and the context. A build.ts may also export a bare stage.
 * @example
 * export default define({
 *   args: { NODE_VERSION: '20' },
 *   context: context('.').ignore(['node_modules', '.git']),
 *   targets: { app, test },
 * });
 */
export function define(input: DefinitionInput): Definition {
  const location = callSite();
  const fail = (message: string, hint?: string): never => {
    throw new WharfError('DSL_USAGE', `define() ${message}`, { hint, location });
  };
  if (typeof input !== 'object' || input === null) fail('expects an object: define({ target: app })');
  for (const key of Object.keys(input)) {
    if (!DEFINITION_KEYS.includes(key)) fail(`has no option "${key}"`, unknownNameHint(key, DEFINITION_KEYS));
  }
  if (!input.target && !input.targets) {
    throw new WharfError('DSL_NO_TARGET', 'define() needs a target stage or targets', {
      hint: 'define({ target: app }) or define({ targets: { app, test } })',
      location,
    });
  }
  if (input.target !== undefined && !isStage(input.target))
    fail('target must be a stage value', "define({ target: stage('app').from('…') })");
  for (const [name, value] of Object.entries(input.targets ?? {})) checkTarget(name, value, fail);
  checkGroups(input, fail);
  checkPlatforms('platforms', input.platforms, fail);
  for (const key of ['cacheFrom', 'cacheTo'] as const) {
    const value = input[key];
    if (value !== undefined && (!Array.isArray(value) || !value.every((v) => typeof v === 'string')))
      fail(
        `${key} must be a list of strings`,
        `define({ ${key}: ['type=registry,ref=registry.example.com/app:cache'] })`,
      );
  }
  return { ...input, [DEFINITION_BRAND]: true };
}

type Fail = (message: string, hint?: string) => never;

function checkTarget(name: string, value: unknown, fail: Fail): void {
  if (isStage(value)) return;
  if (typeof value !== 'object' || value === null || !isStage((value as TargetSpec).stage)) {
    fail(
      `targets.${name} must be a stage or { stage, tags?, … }`,
      `targets: { ${name}: { stage: ${name} } }`,
    );
  }
  const spec = value as TargetSpec;
  for (const key of Object.keys(spec)) {
    if (!TARGET_KEYS.includes(key))
      fail(`targets.${name} has no option "${key}"`, unknownNameHint(key, TARGET_KEYS));
  }
  const strings = (what: string, list: unknown) => {
    if (list !== undefined && (!Array.isArray(list) || list.some((t) => typeof t !== 'string')))
      fail(`targets.${name}.${what} must be a list of strings`, `${what}: ['…']`);
  };
  const record = (what: string, map: unknown) => {
    if (
      map !== undefined &&
      (typeof map !== 'object' || map === null || Object.values(map).some((v) => typeof v !== 'string'))
    )
      fail(`targets.${name}.${what} must map names to strings`, `${what}: { NAME: 'value' }`);
  };
  strings('tags', spec.tags);
  checkPlatforms(`targets.${name}.platforms`, spec.platforms, fail);
  record('args', spec.args);
  record('labels', spec.labels);
  if (typeof spec.output !== 'string') strings('output', spec.output);
  strings('cacheFrom', spec.cacheFrom);
  strings('cacheTo', spec.cacheTo);
}

/** A list of platforms, each one `parsePlatform` reads (`linux/arm64`), checked when defined. */
function checkPlatforms(what: string, list: unknown, fail: Fail): void {
  if (list === undefined) return;
  if (!Array.isArray(list) || list.length === 0 || list.some((p) => typeof p !== 'string'))
    fail(
      `${what} must be a non-empty list of platforms`,
      `${what.split('.').pop()}: ['linux/amd64', 'linux/arm64']`,
    );
  for (const platform of list as string[]) {
    try {
      parsePlatform(platform);
    } catch (error) {
      fail(`${what}: ${(error as Error).message}`, (error as WharfError).hint ?? "e.g. 'linux/arm64'");
    }
  }
}

/**
 * The platforms a definition asks for when the build names none: the target's own (`targets: { api:
 * { stage, platforms } }`), else `define({ platforms })`, else `undefined` (the build's default).
 * @example definitionPlatforms(define({ target: app, platforms: ['linux/amd64', 'linux/arm64'] })) // both
 */
export function definitionPlatforms(definition: Definition, target?: string): readonly string[] | undefined {
  const entry =
    target !== undefined && definition.targets && Object.hasOwn(definition.targets, target)
      ? definition.targets[target]
      : definition.target === undefined && definition.targets && Object.keys(definition.targets).length === 1
        ? Object.values(definition.targets)[0]
        : undefined;
  const own = entry && !isStage(entry) ? entry.platforms : undefined;
  return own ?? definition.platforms;
}

function checkGroups(input: DefinitionInput, fail: Fail): void {
  const targets = Object.keys(input.targets ?? {});
  const groups = input.groups ?? {};
  for (const [group, members] of Object.entries(groups)) {
    if (!Array.isArray(members)) fail(`groups.${group} must be a list of target names`);
    for (const member of members) {
      if (!targets.includes(member) && !(member in groups)) {
        fail(
          `groups.${group} names "${member}", which is neither a target nor a group`,
          unknownNameHint(member, [...targets, ...Object.keys(groups)], 'the targets and groups are'),
        );
      }
    }
    if (targets.includes(group))
      fail(`"${group}" is both a target and a group`, 'give the group another name');
  }
}

/**
 * The stage of a target entry (a bare stage, or `{ stage, … }`).
 * @example targetStage({ stage: api, tags: ['api:1'] }) === api
 */
export function targetStage(target: Stage | TargetSpec): Stage {
  return isStage(target) ? target : target.stage;
}

/** The definition's named targets as stages. */
function targetStages(definition: DefinitionInput): Record<string, Stage> {
  return Object.fromEntries(Object.entries(definition.targets ?? {}).map(([n, t]) => [n, targetStage(t)]));
}

/**
 * Whether `value` was made by `define()` (by any copy of @wharf/core: the check reads a `Symbol.for` brand).
 * @example isDefinition((await import('./build.ts')).default)
 */
export function isDefinition(value: unknown): value is Definition {
  return typeof value === 'object' && value !== null && DEFINITION_BRAND in value;
}

/**
 * The names of a definition's targets (a single `target` is named after its stage, or `default`).
 * @example targetNames(define({ target: app, targets: { test } })) // ['app', 'test']
 */
export function targetNames(definition: Definition): string[] {
  const main = definition.target ? [definition.target.name ?? 'default'] : [];
  return [...new Set([...main, ...Object.keys(definition.targets ?? {})])];
}

export interface ToGraphOptions {
  /** With `define({ targets })`: which one. */
  readonly target?: string;
}

/**
 * The IR of a stage or definition.
 * @example toGraph(stage('app').from('alpine:3.20').cmd(['sh'])).stages[0].base // { kind: 'image', ref: 'alpine:3.20' }
 */
export function toGraph(input: Stage | Definition, options: ToGraphOptions = {}): BuildGraph {
  const definition = isDefinition(input) ? input : define({ target: input });
  const target = pickTarget(definition, options.target);
  const collector = new StageCollector();
  for (const candidate of stagesNamedByVariables(definition, target)) collector.visit(candidate);
  const targetEntry = collector.visit(target);
  const stages = collector.finish();
  const context: ContextSpec = definition.context?.toSpec() ?? { dir: '.' };
  const pairs = Array.isArray(definition.args)
    ? (definition.args as readonly (readonly [string, string?])[])
    : Object.entries(definition.args ?? {});
  checkStringFroms(stages);
  return {
    version: 1,
    args: pairs.map(([name, value]): ArgDecl => (value === undefined ? { name } : { name, default: value })),
    stages,
    context,
    namedContexts: collector.namedContexts,
    target: targetEntry.name,
    ...(definition.directives ? { directives: { ...definition.directives } } : {}),
  };
}

/**
 * A `from: 'name'` string is an image reference; when it is also a stage's name the emitted Dockerfile
 * would read the stage and the direct backend the image. Refuse it, as the two backends must agree.
 */
function checkStringFroms(stages: readonly StageIR[]): void {
  const names = new Set(stages.map((s) => s.name.toLowerCase()));
  for (const stage of stages) {
    for (const instruction of stage.instructions) {
      const refs =
        instruction.kind === 'copy'
          ? [instruction.from]
          : instruction.kind === 'run'
            ? (instruction.mounts ?? []).map((m) => ('from' in m ? m.from : undefined))
            : [];
      for (const ref of refs) {
        if (ref?.kind === 'image' && names.has(ref.ref.toLowerCase())) {
          throw new WharfError(
            'DSL_USAGE',
            `stage "${stage.name}" reads from "${ref.ref}", which names both an image and a stage`,
            {
              hint: `pass the stage value (from: ${ref.ref.replace(/\W+/g, '_')}), or image('docker.io/library/${ref.ref}') for the image`,
              location: instruction.source,
            },
          );
        }
      }
    }
  }
}

function pickTarget(definition: Definition, name: string | undefined): Stage {
  if (name !== undefined) {
    // Like docker build --target: any stage the definition reaches, not only its named targets.
    const stage = findStage(definition, name);
    if (stage) return stage;
  }
  if (name === undefined && definition.target) return definition.target;
  if (definition.targets) {
    const targets = targetStages(definition);
    const names = Object.keys(targets);
    const chosen = name ?? (names.length === 1 ? names[0] : undefined);
    const stage = chosen === undefined ? undefined : targets[chosen];
    if (!stage) {
      throw new WharfError(
        name === undefined ? 'DSL_CHOOSE_TARGET' : 'DSL_UNKNOWN_TARGET',
        name === undefined ? `several targets are defined: ${names.join(', ')}` : `no target named "${name}"`,
        {
          hint:
            name === undefined
              ? `choose one with --target (${names.join(', ')})`
              : unknownNameHint(name, names, 'the targets are'),
        },
      );
    }
    return stage;
  }
  if (name !== undefined && definition.target?.name !== name) {
    throw new WharfError('DSL_UNKNOWN_TARGET', `no target named "${name}"`, {
      hint: `this definition has one target${definition.target?.name ? `, "${definition.target.name}"` : ''}`,
    });
  }
  if (!definition.target) throw new WharfError('DSL_NO_TARGET', 'the definition has no target');
  return definition.target;
}

/** A named target, or a stage named `name` that some target uses (directly or through other stages). */
function findStage(definition: Definition, name: string): Stage | undefined {
  const targets = targetStages(definition);
  const named = Object.hasOwn(targets, name) ? targets[name] : undefined;
  if (named) return named;
  const roots = [...(definition.target ? [definition.target] : []), ...Object.values(targets)];
  const seen = new Set<Stage>();
  const visit = (value: Stage): Stage | undefined => {
    if (seen.has(value)) return undefined;
    seen.add(value);
    if (value.name === name) return value;
    for (const used of usedStages(value)) {
      const found = visit(used);
      if (found) return found;
    }
    return undefined;
  };
  for (const root of roots) {
    const found = visit(root);
    if (found) return found;
  }
  return undefined;
}

/**
 * Stages of the definition that a FROM word with variables, in the target or a stage it uses, can name
 * (`from('base-${TARGETARCH}')` with stages `base-amd64` and `base-arm64`): kept in the graph, before the
 * target, so the build picks one once the platform is known (`resolveStageBases`), as BuildKit does with
 * the emitted Dockerfile.
 */
function stagesNamedByVariables(definition: Definition, target: Stage): Stage[] {
  const closure = (roots: readonly Stage[]): Stage[] => {
    const seen: Stage[] = [];
    const visit = (value: Stage) => {
      if (seen.includes(value)) return;
      seen.push(value);
      for (const used of usedStages(value)) visit(used);
    };
    for (const root of roots) visit(root);
    return seen;
  };
  const all = closure([
    ...(definition.target ? [definition.target] : []),
    ...Object.values(targetStages(definition)),
  ]);
  const out: Stage[] = [];
  const queue = closure([target]);
  for (let stage = queue.shift(); stage !== undefined; stage = queue.shift()) {
    const base = stage.unwind().root.base;
    const pattern = !isStage(base) && base.kind === 'image' ? stageNamePattern(base.ref) : undefined;
    if (pattern === undefined) continue;
    for (const candidate of all) {
      if (candidate === stage || out.includes(candidate) || !pattern.test(candidate.name ?? '')) continue;
      out.push(candidate);
      queue.push(...closure([candidate]));
    }
  }
  return out;
}

/** The stage values a stage uses: its base and its COPY --from / mount from stages. */
function usedStages(value: Stage): Stage[] {
  const { root, instructions } = value.unwind();
  const out: Stage[] = isStage(root.base) ? [root.base] : [];
  const visit = (instruction: DraftInstruction) => {
    if (instruction.kind === 'copy' && isStage(instruction.from)) out.push(instruction.from);
    if (instruction.kind === 'run')
      for (const m of instruction.mounts ?? []) if ('from' in m && isStage(m.from)) out.push(m.from);
    if (instruction.kind === 'onbuild') visit(instruction.instruction);
  };
  for (const instruction of instructions) visit(instruction);
  return out;
}

interface Entry {
  name: string;
  readonly explicitName: string | undefined;
  readonly key: string;
  stage: StageIR | undefined;
}

class StageCollector {
  readonly #byValue = new Map<Stage, Entry>();
  readonly #byKey = new Map<string, Entry>();
  readonly #order: Entry[] = [];
  readonly namedContexts: Record<string, ContextSpec> = {};

  visit(value: Stage): Entry {
    const known = this.#byValue.get(value);
    if (known) return known;
    const { root, instructions } = value.unwind();
    const base: BaseRef = isStage(root.base)
      ? { kind: 'stage', stage: this.#ref(root.base) }
      : root.base.kind === 'scratch'
        ? { kind: 'scratch' }
        : { kind: 'image', ref: root.base.ref };
    const resolved = instructions.map((i) => this.#instruction(i));
    const explicitName = value.name;
    const body = {
      base,
      ...(root.platform === undefined ? {} : { platform: root.platform }),
      instructions: resolved,
    };
    const key = JSON.stringify([explicitName ?? null, body], (k, v) => (k === 'source' ? undefined : v));
    const same = this.#byKey.get(key);
    if (same) {
      this.#byValue.set(value, same);
      return same;
    }
    if (explicitName !== undefined) {
      const clash = this.#order.find((e) => e.explicitName === explicitName);
      if (clash) {
        throw new WharfError('DSL_DUPLICATE_STAGE', `two different stages are both named "${explicitName}"`, {
          hint: `give each branch its own name, e.g. ${explicitName}.run(…).as('${explicitName}-test')`,
          location: root.source,
        });
      }
    }
    const entry: Entry = { name: explicitName ?? '', explicitName, key, stage: undefined };
    entry.stage = {
      name: '',
      ...body,
      ...(root.source ? { source: root.source } : {}),
    };
    this.#byValue.set(value, entry);
    this.#byKey.set(key, entry);
    this.#order.push(entry);
    return entry;
  }

  /** Assigns names (anonymous: `stage-<index>`, skipping names in use) and returns the stages in order. */
  finish(): StageIR[] {
    const used = new Set(this.#order.flatMap((e) => (e.explicitName ? [e.explicitName] : [])));
    this.#order.forEach((entry, index) => {
      if (entry.explicitName) return;
      let name = `stage-${index}`;
      for (let n = index; used.has(name); n++) name = `stage-${index}-${n}`;
      used.add(name);
      entry.name = name;
    });
    // Stage references were recorded as entry keys; now that every stage has a name, substitute it.
    const nameOfKey = new Map(this.#order.map((e) => [e.key, e.name]));
    const rename = (key: string) => nameOfKey.get(key) ?? key;
    return this.#order.map((entry) => renameRefs({ ...(entry.stage as StageIR), name: entry.name }, rename));
  }

  /** A placeholder for a stage reference: the referenced entry's key, replaced by its name in `finish`. */
  #ref(value: Stage): string {
    return this.visit(value).key;
  }

  #from(from: DraftFrom): FromRef {
    if (typeof from === 'string') return { kind: 'image', ref: from };
    if (isStage(from)) return { kind: 'stage', stage: this.#ref(from) };
    if (isImageValue(from)) return { kind: 'image', ref: from.ref };
    if (isContextValue(from)) {
      const name = from.name ?? contextName(from.dir);
      const spec = from.toSpec();
      const existing = this.namedContexts[name];
      if (existing && JSON.stringify(existing) !== JSON.stringify(spec)) {
        throw new WharfError('DSL_DUPLICATE_CONTEXT', `two different contexts are both named "${name}"`, {
          hint: `name them apart: context('${from.dir}', { name: '…' })`,
        });
      }
      this.namedContexts[name] = spec;
      return { kind: 'context', name };
    }
    throw new WharfError(
      'DSL_USAGE',
      `copy()/mount from: expected a stage, image() or context() value, got ${describe(from)}`,
      {
        hint: "pass the stage variable, image('nginx:1.27') or context('../dir')",
      },
    );
  }

  #mount(mount: MountDraft): Mount {
    if ((mount.type === 'cache' || mount.type === 'bind') && mount.from !== undefined) {
      return { ...mount, from: this.#from(mount.from) } as Mount;
    }
    return mount as Mount;
  }

  #instruction(instruction: DraftInstruction): Instruction {
    switch (instruction.kind) {
      case 'copy': {
        const { from, ...rest } = instruction;
        return from === undefined ? rest : { ...rest, from: this.#from(from) };
      }
      case 'run': {
        const { mounts, ...rest } = instruction;
        return mounts === undefined ? rest : { ...rest, mounts: mounts.map((m) => this.#mount(m)) };
      }
      case 'onbuild':
        return {
          ...instruction,
          instruction: this.#instruction(instruction.instruction) as Exclude<
            Instruction,
            { kind: 'onbuild' | 'maintainer' }
          >,
        };
      default:
        return instruction;
    }
  }
}

/** Replaces stage-reference placeholders in a stage (base, COPY --from, mounts, ONBUILD). */
function renameRefs(stage: StageIR, rename: (key: string) => string): StageIR {
  const fromRef = (ref: FromRef): FromRef =>
    ref.kind === 'stage' ? { kind: 'stage', stage: rename(ref.stage) } : ref;
  const instruction = (i: Instruction): Instruction => {
    switch (i.kind) {
      case 'copy':
        return i.from ? { ...i, from: fromRef(i.from) } : i;
      case 'run':
        return i.mounts
          ? {
              ...i,
              mounts: i.mounts.map((m) =>
                (m.type === 'cache' || m.type === 'bind') && m.from ? { ...m, from: fromRef(m.from) } : m,
              ),
            }
          : i;
      case 'onbuild':
        return { ...i, instruction: instruction(i.instruction) as typeof i.instruction };
      default:
        return i;
    }
  };
  return {
    ...stage,
    base: stage.base.kind === 'stage' ? { kind: 'stage', stage: rename(stage.base.stage) } : stage.base,
    instructions: stage.instructions.map(instruction),
  };
}

function contextName(dir: string): string {
  const base = dir.replace(/\/+$/, '').split('/').pop() ?? '';
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '');
  return name || 'context';
}
