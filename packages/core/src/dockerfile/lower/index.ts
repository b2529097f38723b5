/**
 * Dockerfile AST → IR (`BuildGraph`), with BuildKit's rules: global ARGs before the first FROM, one stage
 * per FROM (named `AS name`, lower-cased; unnamed ones `stage-<index>`), `FROM <earlier stage>` and
 * `COPY --from=<stage name|index>` as stage references (other names are images: named contexts are not
 * declared in a Dockerfile), every instruction typed with its flags (see instructions.ts). Errors are
 * `DockerfileLowerError`s in BuildKit's wording with the instruction's `file:line:col`.
 *
 * @example
 * const graph = lowerDockerfile('FROM alpine AS base\nRUN apk add curl\n', { file: 'Dockerfile' });
 * graph.stages[0].instructions[0] // { kind: 'run', command: { form: 'shell', script: 'apk add curl' }, … }
 */
import type { SourceLocation } from '../../errors.js';
import { expandWord, type Lookup, literalWord } from '../../ir/expand.js';
import { dependencyOrder } from '../../ir/graph.js';
import type {
  ArgDecl,
  BaseRef,
  BuildGraph,
  Directives,
  FromRef,
  Instruction,
  Stage,
  Word,
} from '../../ir/types.js';
import { type Node, nodeArgs, type ParseResult, parseDockerfile } from '../parse/index.js';
import { locate, problem } from './errors.js';
import { parseFlags } from './flags.js';
import { type InstructionContext, lowerInstruction } from './instructions.js';
import { hasExpansion, toWord } from './words.js';

export { docComment } from './doc-comment.js';
export type { DockerfileLowerErrorCode } from './errors.js';
export { DockerfileLowerError } from './errors.js';

export interface LowerOptions {
  /** File name for locations. Default `Dockerfile`. */
  readonly file?: string;
  /** The build context directory (`graph.context.dir`). Default `.`. */
  readonly contextDir?: string;
  /**
   * `--build-arg` values: they decide which stage a `FROM ${ARG}` names (BuildKit expands the FROM word
   * with the global ARGs, then looks for a stage of that name before treating it as an image).
   */
  readonly buildArgs?: Readonly<Record<string, string>>;
}

// BuildKit's validStageName.
const STAGE_NAME = /^[a-z][a-z0-9\-_.]*$/;

interface StageHeader {
  readonly node: Node;
  readonly name: string;
  readonly explicit: boolean;
  readonly baseWord: Word;
  readonly platform: Word | undefined;
  readonly source: SourceLocation;
}

/**
 * A Dockerfile's graph (the IR), with BuildKit's rules; errors name the instruction's `file:line:col`.
 * @example
 * const graph = lowerDockerfile(readFileSync('Dockerfile', 'utf8'), { file: 'Dockerfile' });
 * graph.stages.map((s) => s.name) // ['build', 'app']
 */
export function lowerDockerfile(input: string | ParseResult, options: LowerOptions = {}): BuildGraph {
  const file = options.file ?? 'Dockerfile';
  const parsed = typeof input === 'string' ? parseDockerfile(input, { file }) : input;
  const { escapeToken } = parsed;
  const where = (node: Node): SourceLocation => ({
    file,
    line: node.startLine,
    column: 1,
    endLine: node.endLine,
  });
  const at = <T>(node: Node, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw locate(error, where(node));
    }
  };

  const headers = readStageHeaders(parsed.ast.children, escapeToken, where, at);
  const byName = new Map(headers.filter((h) => h.explicit).map((h) => [h.name, h.name]));
  const resolveFrom = (word: Word): FromRef => {
    if (hasExpansion(word)) return { kind: 'image', ref: word };
    const literal = literalWord(word);
    const stage = byName.get(literal.toLowerCase());
    if (stage !== undefined) return { kind: 'stage', stage };
    if (/^\d+$/.test(literal)) {
      const header = headers[Number(literal)];
      if (header === undefined)
        throw problem(`invalid stage index ${literal}`, `there are ${headers.length} stages`);
      return { kind: 'stage', stage: header.name };
    }
    return { kind: 'image', ref: word };
  };
  const ctx: InstructionContext = { escapeToken, resolveFrom };

  const args: ArgDecl[] = [];
  const stages: { header: StageHeader; instructions: Instruction[] }[] = [];
  for (const node of parsed.ast.children) {
    if (node.value.toLowerCase() === 'from') {
      const header = headers[stages.length] as StageHeader;
      stages.push({ header, instructions: [] });
      continue;
    }
    const lowered = at(node, () => lowerInstruction(node, ctx));
    const current = stages.at(-1);
    if (current === undefined) {
      if (lowered.kind === 'arg') {
        args.push(...lowered.args);
        continue;
      }
      throw locate(
        problem(
          `no build stage in current context (${node.value.toUpperCase()} before the first FROM)`,
          'only ARG may come before the first FROM',
        ),
        where(node),
      );
    }
    const comments = node.prevComment.length ? { comments: [...node.prevComment] } : {};
    current.instructions.push({ ...lowered, source: where(node), ...comments } as Instruction);
  }
  if (stages.length === 0) {
    const first = parsed.ast.children[0];
    throw locate(
      problem('no build stage in current context', 'add a FROM line'),
      first ? where(first) : { file, line: 1, column: 1 },
    );
  }

  const globals = globalValues(args, options.buildArgs ?? {});
  const firstInstruction = parsed.ast.children[0];
  const irStages: Stage[] = stages.map(({ header, instructions }, index) => ({
    name: header.name,
    // the comments above the file's first instruction are the graph's (`comments` below)
    ...(header.node !== firstInstruction && header.node.prevComment.length
      ? { comments: [...header.node.prevComment] }
      : {}),
    base: at(header.node, () => baseRef(header, headers.slice(0, index), globals)),
    ...(header.platform === undefined ? {} : { platform: header.platform }),
    instructions,
    source: header.source,
  }));
  const directives = keptDirectives(parsed);
  const top = parsed.leadingComments;
  const graph: BuildGraph = {
    version: 1,
    args,
    stages: irStages,
    context: { dir: options.contextDir ?? '.' },
    namedContexts: {},
    ...(directives ? { directives } : {}),
    ...(top.length ? { comments: [...top] } : {}),
  };
  // COPY --from may name a later stage (BuildKit allows it); the IR lists stages in dependency order.
  return { ...graph, stages: dependencyOrder(graph) };
}

function readStageHeaders(
  nodes: readonly Node[],
  escapeToken: ParseResult['escapeToken'],
  where: (node: Node) => SourceLocation,
  at: <T>(node: Node, fn: () => T) => T,
): StageHeader[] {
  const drafts = nodes
    .filter((node) => node.value.toLowerCase() === 'from')
    .map((node) =>
      at(node, () => {
        const args = nodeArgs(node);
        const named = args.length === 3 && (args[1] as string).toLowerCase() === 'as';
        if (!named && args.length !== 1)
          throw problem('FROM requires either one or three arguments', 'FROM <image> [AS <name>]');
        const flags = parseFlags(node.flags, { platform: 'string' });
        const name = named ? (args[2] as string).toLowerCase() : undefined;
        if (name !== undefined && !STAGE_NAME.test(name)) {
          throw problem(
            `invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`,
          );
        }
        const platform = flags.string('platform');
        return {
          node,
          name,
          baseWord: toWord(args[0] as string, escapeToken),
          platform: platform === undefined || platform === '' ? undefined : toWord(platform, escapeToken),
          source: where(node),
        };
      }),
    );
  const explicit = new Set<string>();
  for (const draft of drafts) {
    if (draft.name === undefined) continue;
    if (explicit.has(draft.name)) {
      throw locate(
        problem(`duplicate stage name "${draft.name}"`, 'stage names must be unique'),
        draft.source,
      );
    }
    explicit.add(draft.name);
  }
  return drafts.map((draft, index) => {
    if (draft.name !== undefined) return { ...draft, name: draft.name, explicit: true };
    let name = `stage-${index}`;
    for (let n = 1; explicit.has(name); n++) name = `stage-${index}-${n}`;
    explicit.add(name);
    return { ...draft, name, explicit: false };
  });
}

/**
 * `FROM x`: an earlier stage named x (case-insensitive), `scratch`, or an image reference. A word with
 * variables is expanded with the global ARGs first: when it names an earlier stage, it is that stage
 * (BuildKit's order), otherwise it stays an image reference expanded at build time.
 */
function baseRef(header: StageHeader, earlier: readonly StageHeader[], globals: Lookup): BaseRef {
  const word = header.baseWord;
  const literal = hasExpansion(word) ? expandedOrUndefined(word, globals) : literalWord(word);
  if (literal !== undefined) {
    const stage = earlier.find((h) => h.explicit && h.name === literal.toLowerCase());
    if (stage) return { kind: 'stage', stage: stage.name };
    if (literal === 'scratch' && !hasExpansion(word)) return { kind: 'scratch' };
  }
  return { kind: 'image', ref: word };
}

/** Global ARG values as BuildKit sees them in FROM lines: a build arg, else the default expanded in order. */
function globalValues(args: readonly ArgDecl[], buildArgs: Readonly<Record<string, string>>): Lookup {
  const values = new Map<string, string>();
  for (const decl of args) {
    const given = Object.hasOwn(buildArgs, decl.name) ? buildArgs[decl.name] : undefined;
    const value =
      given ??
      (decl.default === undefined ? undefined : expandedOrUndefined(decl.default, (n) => values.get(n)));
    if (value === undefined) values.delete(decl.name);
    else values.set(decl.name, value);
  }
  return (name) => values.get(name);
}

function expandedOrUndefined(word: Word, lookup: Lookup): string | undefined {
  try {
    return expandWord(word, lookup);
  } catch {
    return undefined; // `${X:?…}` and the like fail at build time, with the build's own values
  }
}

/** `# syntax=` and `# check=` as written (`# escape=` is already applied to the words). */
function keptDirectives(parsed: ParseResult): Directives | undefined {
  const syntax = parsed.directives.find((d) => d.name === 'syntax')?.value;
  const check = parsed.directives.find((d) => d.name === 'check')?.value;
  if (syntax === undefined && check === undefined) return undefined;
  return { ...(syntax === undefined ? {} : { syntax }), ...(check === undefined ? {} : { check }) };
}
