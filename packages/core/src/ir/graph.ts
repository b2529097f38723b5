/**
 * Stage-graph utilities over the IR: which stages a stage uses, dependency order, pruning to a target.
 */
import { WharfError } from '../errors.js';
import { hasExpansion, parseWord } from './expand.js';
import type { BuildGraph, FromRef, Instruction, Stage } from './types.js';

/**
 * Names of the stages `stage` reads from (FROM, COPY --from, RUN --mount from=, also in its ONBUILD
 * triggers), in first-use order.
 */
export function stageDependencies(stage: Stage): string[] {
  const names: string[] = [];
  const add = (ref: FromRef | undefined) => {
    if (ref?.kind === 'stage' && !names.includes(ref.stage)) names.push(ref.stage);
  };
  if (stage.base.kind === 'stage') add(stage.base);
  const visit = (instruction: Instruction) => {
    if (instruction.kind === 'copy') add(instruction.from);
    if (instruction.kind === 'run') for (const m of instruction.mounts ?? []) if ('from' in m) add(m.from);
    // A trigger's stage runs in the child built FROM this stage: built first, it is there when needed.
    if (instruction.kind === 'onbuild') visit(instruction.instruction);
  };
  for (const instruction of stage.instructions) visit(instruction);
  return names;
}

/**
 * Stages an ONBUILD trigger's `--from` word names (lowered as image words: in the child's build they
 * name a stage first). The trigger runs in a child built FROM this stage, so they are built first.
 */
function triggerStages(stage: Stage, byName: ReadonlyMap<string, Stage>): string[] {
  const names: string[] = [];
  const add = (ref: FromRef | undefined) => {
    if (ref?.kind !== 'image') return;
    const found = [...byName.keys()].find((n) => n.toLowerCase() === ref.ref.toLowerCase());
    if (found !== undefined && !names.includes(found)) names.push(found);
  };
  for (const i of stage.instructions) {
    if (i.kind !== 'onbuild') continue;
    if (i.instruction.kind === 'copy') add(i.instruction.from);
    if (i.instruction.kind === 'run')
      for (const m of i.instruction.mounts ?? []) if ('from' in m) add(m.from);
  }
  return names;
}

/**
 * Stages ordered so each comes after the ones it uses (stable: graph order where free).
 * Throws `IR_CYCLE` naming the cycle, `IR_UNKNOWN_STAGE` for a reference to no stage.
 */
export function dependencyOrder(graph: BuildGraph, roots?: readonly string[]): Stage[] {
  const byName = new Map(graph.stages.map((s) => [s.name, s]));
  const done = new Set<string>();
  const onPath: string[] = [];
  const order: Stage[] = [];
  const visit = (name: string, from?: string) => {
    if (done.has(name)) return;
    const stage = byName.get(name);
    if (!stage) {
      throw new WharfError('IR_UNKNOWN_STAGE', `stage "${from}" uses unknown stage "${name}"`, {
        hint: `defined stages: ${[...byName.keys()].join(', ') || '(none)'}`,
      });
    }
    const at = onPath.indexOf(name);
    if (at >= 0) {
      throw new WharfError(
        'IR_CYCLE',
        `stages depend on each other in a cycle: ${[...onPath.slice(at), name].join(' → ')}`,
        {
          hint: 'a stage can only use stages that do not (indirectly) use it',
          location: stage.source,
        },
      );
    }
    onPath.push(name);
    for (const dep of [...stageDependencies(stage), ...triggerStages(stage, byName)]) visit(dep, name);
    onPath.pop();
    done.add(name);
    order.push(stage);
  };
  for (const name of roots ?? graph.stages.map((s) => s.name)) visit(name);
  return order;
}

/**
 * The graph with each stage whose FROM word has variables and, expanded once the build's values are known
 * (global ARGs, build args, the platform ARGs), names another stage (case-insensitively) based on that
 * stage, as BuildKit resolves `FROM base-${TARGETARCH}` against stage names before image references.
 * `lowerDockerfile` resolves what global ARG defaults and build args decide; the platform is known only
 * when the build starts. One expander per target platform of the build: a word must name the same stage
 * (or none) for all of them (`IR_PLATFORM_STAGE` otherwise). A word that fails to expand stays an image
 * reference (its error comes later).
 *
 * @example resolveStageBases(graph, [(word) => expandWord(word, (n) => (n === 'TARGETARCH' ? 'amd64' : undefined))])
 */
export function resolveStageBases(
  graph: BuildGraph,
  expanders: readonly ((word: string) => string)[],
): BuildGraph {
  const names = new Map(graph.stages.map((s) => [s.name.toLowerCase(), s.name]));
  const named = (stage: Stage, word: string, expand: (word: string) => string): string | undefined => {
    let expanded: string;
    try {
      expanded = expand(word);
    } catch {
      return undefined;
    }
    const name = names.get(expanded.toLowerCase());
    return name === stage.name ? undefined : name;
  };
  const stages = graph.stages.map((stage): Stage => {
    if (stage.base.kind !== 'image' || !hasExpansion(stage.base.ref)) return stage;
    const word = stage.base.ref;
    const chosen = [...new Set(expanders.map((expand) => named(stage, word, expand)))];
    if (chosen.length > 1) {
      throw new WharfError(
        'IR_PLATFORM_STAGE',
        `stage "${stage.name}": FROM ${word} names ${chosen.map((n) => (n === undefined ? 'an image' : `stage "${n}"`)).join(' or ')} depending on the target platform`,
        { hint: 'build one --platform at a time', ...(stage.source ? { location: stage.source } : {}) },
      );
    }
    const [name] = chosen;
    return name === undefined ? stage : { ...stage, base: { kind: 'stage', stage: name } };
  });
  return stages.every((s, i) => s === graph.stages[i])
    ? graph
    : { ...graph, stages: dependencyOrder({ ...graph, stages }) };
}

/**
 * The stage names a FROM word with variables can expand to, as a pattern: its literal text with each
 * expansion matching anything (case-insensitive, as stage names are). `undefined` for a word without
 * variables or without literal text (`${BASE}` could name any stage: none is implied).
 *
 * @example stageNamePattern('base-${TARGETARCH}')?.test('base-arm64') // true
 */
export function stageNamePattern(word: string): RegExp | undefined {
  if (!hasExpansion(word)) return undefined;
  const parts = parseWord(word);
  if (!parts.some((part) => part.kind === 'text')) return undefined;
  const source = parts
    .map((part) => (part.kind === 'text' ? part.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : '.*'))
    .join('');
  return new RegExp(`^${source}$`, 'i');
}

/** The name of the stage the graph builds: `graph.target`, else the last stage. */
export function targetName(graph: BuildGraph): string {
  const name = graph.target ?? graph.stages.at(-1)?.name;
  if (name === undefined) throw new WharfError('IR_NO_STAGES', 'the build has no stages');
  return name;
}

/** The graph with only the stages `target` needs, in dependency order, target last. */
export function pruneToTarget(graph: BuildGraph, target: string = targetName(graph)): BuildGraph {
  if (!graph.stages.some((s) => s.name === target)) {
    throw new WharfError('IR_UNKNOWN_TARGET', `no stage named "${target}"`, {
      hint: `stages: ${graph.stages.map((s) => s.name).join(', ')}`,
    });
  }
  const stages = dependencyOrder(graph, [target]);
  const used = new Set(
    stages.flatMap((s) =>
      s.instructions.flatMap((i) => {
        if (i.kind === 'copy' && i.from?.kind === 'context') return [i.from.name];
        if (i.kind === 'run')
          return (i.mounts ?? []).flatMap((m) =>
            'from' in m && m.from?.kind === 'context' ? [m.from.name] : [],
          );
        return [];
      }),
    ),
  );
  const namedContexts = Object.fromEntries(
    Object.entries(graph.namedContexts).filter(([name]) => used.has(name)),
  );
  return { ...graph, stages, namedContexts, target };
}
