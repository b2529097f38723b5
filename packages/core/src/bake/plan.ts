/**
 * The bake plan: which targets of a definition to build and with what tags, platforms, args, labels and
 * outputs — the definition's targets and groups, the names asked for, and `--set target.key=value`
 * overrides, resolved before any work. Pure: `bake --print` shows it.
 */
import type { Definition, TargetSpec } from '../dsl/graph.js';
import { isStage, type Stage } from '../dsl/stage.js';
import { isWharfError, unknownNameHint, WharfError } from '../errors.js';
import { parseOutput } from '../export/output.js';
import { parsePlatform } from '../oci/index.js';

/** One target of a plan, as `--print` shows it (the stage is its name in the definition). */
export interface BakePlanTarget {
  readonly tags: readonly string[];
  readonly platforms: readonly string[];
  readonly args: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly output: readonly string[];
  /** Build caches to import (`--cache-from` text): the target's, else `define({ cacheFrom })`, unless bake's own. */
  readonly 'cache-from'?: readonly string[];
  /** Where to export the target's build cache (`--cache-to` text), chosen the same way. */
  readonly 'cache-to'?: readonly string[];
}

/** What `bake()` builds, in bake's `--print` shape: the groups asked for and each target. */
export interface BakePlan {
  readonly group: Readonly<Record<string, { readonly targets: readonly string[] }>>;
  readonly target: Readonly<Record<string, BakePlanTarget>>;
}

const SET_KEYS = ['tags', 'platforms', 'args.NAME', 'labels.NAME', 'output', 'cache-from', 'cache-to'];

/** Every target of a definition by name: `targets`, and a lone `target` under its stage's name. */
export function targetEntries(definition: Definition): Map<string, Stage | TargetSpec> {
  const entries = new Map<string, Stage | TargetSpec>(Object.entries(definition.targets ?? {}));
  const name = definition.target ? (definition.target.name ?? 'default') : undefined;
  if (definition.target && name !== undefined && !entries.has(name)) entries.set(name, definition.target);
  return entries;
}

/**
 * The targets `names` (targets or groups; none: the `default` group, else every target) expand to, in
 * order, each once.
 */
function chosenTargets(definition: Definition, names: readonly string[]): string[] {
  const targets = targetEntries(definition);
  const groups = definition.groups ?? {};
  const out: string[] = [];
  const expand = (name: string, path: readonly string[]) => {
    if (targets.has(name)) {
      if (!out.includes(name)) out.push(name);
      return;
    }
    const members = Object.hasOwn(groups, name) ? groups[name] : undefined;
    if (!members) {
      throw new WharfError('BAKE_UNKNOWN_TARGET', `no target or group named "${name}"`, {
        hint: unknownNameHint(
          name,
          [...targets.keys(), ...Object.keys(groups)],
          'the targets and groups are',
        ),
      });
    }
    if (path.includes(name)) {
      throw new WharfError(
        'BAKE_GROUP_CYCLE',
        `group "${name}" contains itself (${[...path, name].join(' → ')})`,
        {
          hint: 'remove the group from its own members',
        },
      );
    }
    for (const member of members) expand(member, [...path, name]);
  };
  const asked =
    names.length > 0 ? names : Object.hasOwn(groups, 'default') ? ['default'] : [...targets.keys()];
  for (const name of asked) expand(name, []);
  return out;
}

/** What {@link resolvePlan} takes besides the definition. */
export interface PlanOptions {
  /** Targets or groups; none: the `default` group, else every target. */
  readonly targets?: readonly string[];
  /** `TARGET.KEY=VALUE` overrides. */
  readonly set?: readonly string[];
  /** Adds a registry output to every target. */
  readonly push?: boolean;
  /** Build caches to import for every target (`--cache-from`): replace the targets' and the definition's. */
  readonly cacheFrom?: readonly string[];
  /** Where every target exports its build cache (`--cache-to`): replaces the targets' and the definition's. */
  readonly cacheTo?: readonly string[];
}

/**
 * Resolves what to build: the chosen targets with the definition's settings and the `--set` overrides
 * (`api.tags=r.example/api:2`, `*.platforms=linux/amd64,linux/arm64`, `web.args.VERSION=1.2`,
 * `api.output=type=oci,dest=out/api`, `api.cache-to=type=registry,ref=r.example/api:cache`); `push`
 * adds a registry output to every target. A target's caches: `cacheFrom`/`cacheTo` given here, else
 * its own, else `define()`'s, then its `--set`.
 * @example resolvePlan(definition, { targets: ['default'], set: ['api.tags=r.example/api:dev'] })
 */
export function resolvePlan(definition: Definition, options: PlanOptions = {}): BakePlan {
  const entries = targetEntries(definition);
  const chosen = chosenTargets(definition, options.targets ?? []);
  const plan = new Map<string, { -readonly [K in keyof BakePlanTarget]: BakePlanTarget[K] }>();
  for (const name of chosen) {
    const entry = entries.get(name) as Stage | TargetSpec;
    const spec: Partial<TargetSpec> = isStage(entry) ? {} : entry;
    plan.set(name, {
      tags: [...(spec.tags ?? [])],
      platforms: [...(spec.platforms ?? definition.platforms ?? [])], // the target's, else define({ platforms })
      args: { ...(spec.args ?? {}) },
      labels: { ...(spec.labels ?? {}) },
      output:
        spec.output === undefined ? [] : typeof spec.output === 'string' ? [spec.output] : [...spec.output],
      ...caches('cache-from', options.cacheFrom ?? spec.cacheFrom ?? definition.cacheFrom),
      ...caches('cache-to', options.cacheTo ?? spec.cacheTo ?? definition.cacheTo),
    });
  }
  const replaced = new Set<string>();
  for (const text of options.set ?? []) {
    const match = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(text);
    if (!match) {
      throw new WharfError('BAKE_BAD_SET', `--set ${text}: expected TARGET.KEY=VALUE`, {
        hint: `e.g. --set api.tags=registry.example.com/api:dev (keys: ${SET_KEYS.join(', ')}; TARGET may be *)`,
      });
    }
    const [, who = '', key = '', value = ''] = match;
    const names = who === '*' ? chosen : [who];
    for (const name of names) {
      const target = plan.get(name);
      if (!target) {
        // A target that exists but was not chosen: the override has nothing to change.
        if (entries.has(name)) continue;
        throw new WharfError('BAKE_UNKNOWN_TARGET', `--set ${text}: no target named "${name}"`, {
          hint: unknownNameHint(name, [...entries.keys()], 'the targets are'),
        });
      }
      applySet(target, key, value, `${name}.${key}`, replaced, text);
    }
  }
  const target: Record<string, BakePlanTarget> = {};
  const tagged = new Map<string, string>();
  for (const [name, value] of plan) {
    const outputs = checked(name, () => value.output.map((o) => parseOutput(o)));
    checked(name, () => value.platforms.map((p) => parsePlatform(p)));
    if (options.push && !outputs.some((o) => o.type === 'registry')) {
      value.output = [...value.output, 'type=registry'];
      outputs.push(parseOutput('type=registry'));
    }
    if (outputs.some((o) => o.type === 'registry' && o.names.length === 0) && value.tags.length === 0) {
      throw new WharfError('BAKE_PUSH_NO_TAG', `target "${name}" is pushed but has no tags`, {
        hint: `give it tags in build.ts ({ stage, tags: ['registry.example.com/${name}:1.0'] }) or --set ${name}.tags=…`,
      });
    }
    for (const tag of value.tags) {
      const other = tagged.get(tag);
      if (other !== undefined) {
        throw new WharfError(
          'BAKE_DUPLICATE_TAG',
          `targets "${other}" and "${name}" both have the tag ${tag}`,
          {
            hint: 'give each target its own tags (--set TARGET.tags=… replaces them)',
          },
        );
      }
      tagged.set(tag, name);
    }
    target[name] = value;
  }
  const group: Record<string, { targets: string[] }> = {};
  for (const name of options.targets?.length ? options.targets : ['default']) {
    if (Object.hasOwn(definition.groups ?? {}, name))
      group[name] = { targets: chosenTargets(definition, [name]) };
  }
  if (Object.keys(group).length === 0) group.default = { targets: chosen };
  return { group, target };
}

/** A cache list as a plan key, left out when empty (as bake's `--print` does). */
function caches(
  key: 'cache-from' | 'cache-to',
  list: readonly string[] | undefined,
): Partial<Record<'cache-from' | 'cache-to', string[]>> {
  return list?.length ? { [key]: [...list] } : {};
}

/** Runs a check of one target's settings; its error names the target. */
function checked<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!isWharfError(error)) throw error;
    throw new WharfError('BAKE_BAD_TARGET', `target "${name}": ${error.message}`, {
      ...(error.hint ? { hint: error.hint } : {}),
      cause: error,
    });
  }
}

function applySet(
  target: { -readonly [K in keyof BakePlanTarget]: BakePlanTarget[K] },
  key: string,
  value: string,
  slot: string,
  replaced: Set<string>,
  text: string,
): void {
  const list = (current: readonly string[], items: readonly string[]): string[] => {
    // The first --set of a list replaces the definition's; more of them add to it.
    const next = replaced.has(slot) ? [...current, ...items] : [...items];
    replaced.add(slot);
    return next;
  };
  const split = (v: string) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (key === 'tags') target.tags = list(target.tags, split(value));
  else if (key === 'platforms') target.platforms = list(target.platforms, split(value));
  else if (key === 'output') target.output = list(target.output, [value]);
  else if (key === 'cache-from' || key === 'cache-to') {
    const next = list(target[key] ?? [], value === '' ? [] : [value]); // `=` alone: none
    if (next.length > 0) target[key] = next;
    else delete target[key];
  } else if (key.startsWith('args.') && key.length > 5)
    target.args = { ...target.args, [key.slice(5)]: value };
  else if (key.startsWith('labels.') && key.length > 7)
    target.labels = { ...target.labels, [key.slice(7)]: value };
  else {
    throw new WharfError('BAKE_BAD_SET', `--set ${text}: no key "${key}"`, {
      hint: unknownNameHint(key, SET_KEYS, 'the keys are'),
    });
  }
}

/**
 * A plan as stable JSON (keys sorted, two-space indent): what `wharf bake --print` prints.
 * @example console.log(planJson(resolvePlan(definition)))
 */
export function planJson(plan: BakePlan): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
      );
    }
    return value;
  };
  return `${JSON.stringify(sorted(plan), null, 2)}\n`;
}
