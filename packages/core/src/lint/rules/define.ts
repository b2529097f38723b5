import type { SourceLocation } from '../../errors.js';
import type { RunInstruction, Stage } from '../../ir/types.js';
import type { LintContext, LocatedInstruction } from '../context.js';
import type { SimpleCommand } from '../shell.js';
import type { Hit, Rule } from '../types.js';

/** A hit at `at`, pointing at `needle` inside it when given. */
export function hit<D>(at: SourceLocation | undefined, detail: D, needle?: string): Hit<D> {
  return { at, detail, ...(needle === undefined ? {} : { needle }) };
}

/** Types a rule's detail once; the list of rules holds them as `Rule<unknown>`. */
export function defineRule<D>(rule: Rule<D>): Rule<unknown> {
  return rule as Rule<unknown>;
}

export interface RunCommand extends LocatedInstruction {
  readonly instruction: RunInstruction;
  readonly command: SimpleCommand;
}

const commandLists = new WeakMap<LintContext, RunCommand[]>();

/** Every simple command of every RUN, with the instruction it is in (worked out once per context). */
export function runCommands(ctx: LintContext): readonly RunCommand[] {
  let list = commandLists.get(ctx);
  if (!list) {
    list = [];
    for (const item of ctx.instructions) {
      if (item.instruction.kind !== 'run') continue;
      for (const script of ctx.scriptsOf(item.instruction)) {
        for (const command of script.commands) list.push({ ...item, instruction: item.instruction, command });
      }
    }
    commandLists.set(ctx, list);
  }
  return list;
}

/** The instructions of the final image's stages, base first (the order they apply in). */
export function finalInstructions(ctx: LintContext): LocatedInstruction[] {
  return [...ctx.finalChain]
    .reverse()
    .flatMap((stage) => stage.instructions.map((instruction, index) => ({ stage, instruction, index })));
}

/** `name[:tag][@digest]` of an image reference, without validating it (variables are left to the caller). */
export function splitImageRef(ref: string): { name: string; tag?: string; digest?: string } {
  const at = ref.indexOf('@');
  const nameTag = at < 0 ? ref : ref.slice(0, at);
  const colon = nameTag.lastIndexOf(':');
  const hasTag = colon > nameTag.lastIndexOf('/');
  return {
    name: hasTag ? nameTag.slice(0, colon) : nameTag,
    ...(hasTag ? { tag: nameTag.slice(colon + 1) } : {}),
    ...(at < 0 ? {} : { digest: ref.slice(at + 1) }),
  };
}

/** The image bases of the graph's stages (not stage references, not scratch, no variables). */
export function* imageBases(ctx: LintContext): Generator<{ stage: Stage; ref: string }> {
  for (const stage of ctx.stages) {
    if (stage.base.kind === 'image' && !stage.base.ref.includes('$')) yield { stage, ref: stage.base.ref };
  }
}
