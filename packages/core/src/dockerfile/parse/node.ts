/**
 * The low-level Dockerfile AST, shaped like BuildKit's `parser.Node` so that code and tests written
 * against BuildKit translate directly.
 *
 * The root node has no value and one child per instruction. An instruction node holds the keyword
 * in `value` (as written: `RUN`, `run`), its `--flags`, and its arguments as a linked list through
 * `next`; ONBUILD's `next` is a node whose single child is the inner instruction. Plain data: every
 * node can be printed with `JSON.stringify` or {@link dump}.
 */
export interface Node {
  /** The keyword of an instruction node, or one argument. Empty for the root. */
  readonly value: string;
  /** The next argument in the list. */
  readonly next?: Node | undefined;
  /** Instructions (for the root) or ONBUILD's inner instruction. */
  readonly children: readonly Node[];
  /** Heredoc bodies attached to a RUN/COPY/ADD instruction (also inside ONBUILD). */
  readonly heredocs: readonly Heredoc[];
  /** `json: true` when the arguments were written in exec/JSON form. */
  readonly attributes: NodeAttributes;
  /** The logical line (continuations joined) the instruction was parsed from. */
  readonly original: string;
  /** Builder flags (`--from=build`), quotes removed. Only instruction nodes have them. */
  readonly flags: readonly string[];
  /** First and last physical line (1-based, inclusive), continuation and heredoc lines included. */
  readonly startLine: number;
  readonly endLine: number;
  /** The comment lines directly above the instruction, `#` and surrounding whitespace removed. */
  readonly prevComment: readonly string[];
}

export interface NodeAttributes {
  readonly json: boolean;
}

/** One heredoc body, as BuildKit's `parser.Heredoc`. */
export interface Heredoc {
  /** The terminator word after quote removal (`EOF` for `<<'EOF'`). */
  readonly name: string;
  /** Leading digits before `<<` (`3<<EOF`), 0 if none. */
  readonly fileDescriptor: number;
  /** False when any part of the terminator word was quoted: the body is not expanded. */
  readonly expand: boolean;
  /** True for `<<-`: leading tabs are stripped later, see `chompHeredocContent`. */
  readonly chomp: boolean;
  /** The body lines exactly as read, each with its line ending; the terminator is excluded. */
  readonly content: string;
}

/** A node with every field at its zero value except those given. */
export function makeNode(fields: Partial<Node>): Node {
  return {
    value: '',
    next: undefined,
    children: [],
    heredocs: [],
    attributes: NO_ATTRIBUTES,
    original: '',
    flags: [],
    startLine: 0,
    endLine: 0,
    prevComment: [],
    ...fields,
  };
}

export const NO_ATTRIBUTES: NodeAttributes = Object.freeze({ json: false });
export const JSON_ATTRIBUTES: NodeAttributes = Object.freeze({ json: true });

/** Builds a `next`-linked list of argument nodes from plain values (undefined when empty). */
export function argList(values: readonly string[]): Node | undefined {
  let next: Node | undefined;
  for (let i = values.length - 1; i >= 0; i--) next = makeNode({ value: values[i] as string, next });
  return next;
}

/** The argument values of an instruction node, following `next` (ONBUILD's inner node gives ""). */
export function nodeArgs(node: Node): string[] {
  const out: string[] = [];
  for (let n = node.next; n !== undefined; n = n.next) out.push(n.value);
  return out;
}
