/**
 * What rules read: the graph, with the facts several rules need worked out once — which stages make up
 * the final image, each RUN's shell and scripts — and, for a Dockerfile, the parsed AST (spellings the IR
 * normalises away: keyword case, `ENV key value`, stage names as written).
 */

import type { Node } from '../dockerfile/parse/index.js';
import type { SourceLocation } from '../errors.js';
import type { BuildGraph, Instruction, RunInstruction, Stage } from '../ir/types.js';
import { type ShellScript, simpleCommands } from './shell.js';

/** A Dockerfile's source, when the graph came from one. */
export interface DockerfileSource {
  readonly file: string;
  readonly text: string;
  /** The parser's root node (one child per instruction). */
  readonly ast: Node;
}

export interface LocatedInstruction {
  readonly stage: Stage;
  readonly instruction: Instruction;
  /** Index in `stage.instructions`. */
  readonly index: number;
}

export interface LintContext {
  readonly graph: BuildGraph;
  readonly stages: readonly Stage[];
  /** The target stage: the image the build produces. */
  readonly final: Stage;
  /**
   * The target and the stages it is built FROM (nearest first): their instructions all shape the
   * final image's filesystem and config.
   */
  readonly finalChain: readonly Stage[];
  /** The stage's own chain: it and the graph stages it is built FROM, nearest first. */
  chainOf(stage: Stage): readonly Stage[];
  /** Every instruction of every stage, in order (ONBUILD triggers are not run here, so not included). */
  readonly instructions: readonly LocatedInstruction[];
  /** The shell scripts a RUN executes: its shell-form command, heredoc bodies, or `sh -c` argument. */
  scriptsOf(run: RunInstruction): readonly ShellScript[];
  /** The shell a shell-form RUN in this stage runs under at `index` (SHELL, inherited through FROM). */
  shellAt(stage: Stage, index: number): readonly string[];
  /** Present when linting a Dockerfile. */
  readonly dockerfile: DockerfileSource | undefined;
  /** A fallback location for graph-wide findings: the final stage's FROM. */
  readonly finalLocation: SourceLocation | undefined;
  /** True for a base reference pinned outside the definition (its tag is in wharf.lock). */
  readonly pinnedElsewhere: (ref: string) => boolean;
}

/** The final stage of a graph without stages (a Dockerfile that did not lower: only syntax rules run). */
const NO_STAGE: Stage = { name: '', base: { kind: 'scratch' }, instructions: [] };
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh']);

export function lintContext(
  graph: BuildGraph,
  dockerfile?: DockerfileSource,
  pinnedElsewhere: (ref: string) => boolean = () => false,
): LintContext {
  const byName = new Map(graph.stages.map((s) => [s.name, s]));
  const chains = new Map<Stage, Stage[]>();
  const chainOf = (stage: Stage): Stage[] => {
    let chain = chains.get(stage);
    if (chain) return chain;
    chain = [stage];
    const seen = new Set([stage]);
    for (let s = stage; s.base.kind === 'stage'; ) {
      const base = byName.get(s.base.stage);
      if (!base || seen.has(base)) break;
      seen.add(base);
      chain.push(base);
      s = base;
    }
    chains.set(stage, chain);
    return chain;
  };
  const targetName = graph.target ?? graph.stages.at(-1)?.name;
  const final =
    (targetName === undefined ? undefined : byName.get(targetName)) ?? graph.stages.at(-1) ?? NO_STAGE;
  const scripts = new WeakMap<RunInstruction, ShellScript[]>();
  const shellsByStage = new Map<Stage, (readonly string[])[]>();
  return {
    graph,
    stages: graph.stages,
    final,
    finalChain: chainOf(final),
    chainOf,
    instructions: graph.stages.flatMap((stage) =>
      stage.instructions.map((instruction, index) => ({ stage, instruction, index })),
    ),
    scriptsOf(run) {
      let out = scripts.get(run);
      if (!out) {
        out = runScripts(run).map(simpleCommands);
        scripts.set(run, out);
      }
      return out;
    },
    shellAt(stage, index) {
      let shells = shellsByStage.get(stage);
      if (!shells) {
        // The shell in force before each instruction, in one pass (SHELL is rare, RUN is not).
        const inherited = chainOf(stage)
          .slice(1)
          .map((base) => base.instructions.findLast((i) => i.kind === 'shell'))
          .find((i) => i !== undefined);
        let argv = inherited?.kind === 'shell' ? inherited.argv : DEFAULT_SHELL;
        shells = stage.instructions.map((i) => {
          const before = argv;
          if (i.kind === 'shell') argv = i.argv;
          return before;
        });
        shellsByStage.set(stage, shells);
      }
      return shells[index] ?? DEFAULT_SHELL;
    },
    dockerfile,
    finalLocation: final.source,
    pinnedElsewhere,
  };
}

function runScripts(run: RunInstruction): string[] {
  const { command } = run;
  if (command.form === 'shell') return [command.script, ...(run.heredocs ?? []).map((h) => h.content)];
  const [program = '', flag, script] = command.argv;
  const name = program.slice(program.lastIndexOf('/') + 1);
  return SHELLS.has(name) && flag === '-c' && script !== undefined ? [script] : [];
}
