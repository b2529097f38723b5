/**
 * Linear-time matching for the regular expressions wharf's pattern compilers write (`glob.ts` for COPY
 * wildcards, `ignore.ts` for `.dockerignore` and `--exclude`). JavaScript's RegExp backtracks:
 * `*a*a*a*a*b` against a 200-character name took seconds, `**\/` ×8 + `a` on a 40-deep tree 12 s.
 * Docker matches the same patterns with Go's RE2, which is linear. This compiles the regex text to a
 * Thompson NFA and simulates it on the code points of the name, every state at once, so a test takes
 * O(name × pattern) steps whatever the pattern.
 *
 * The syntax is the subset the compilers emit, with JavaScript's meaning (flag `u`): literal
 * characters and `\x` escapes (`\u{hex}` too), classes `[...]`/`[^...]` (each tested with a one-character
 * RegExp, so `\p{…}` classes keep their exact meaning), `(?:…)`, `|`, `*`, `+`, `?` (a lazy `?` after
 * them changes nothing for a yes/no answer), `^`, `$`, `\b`, `\B` and `(?!)` (never matches). Anything
 * else is an error: the compilers never write it.
 */

type Node =
  | { readonly kind: 'char'; readonly test: (ch: string) => boolean }
  | { readonly kind: 'cat' | 'alt'; readonly items: readonly Node[] }
  | { readonly kind: '*' | '+' | '?'; readonly item: Node }
  | { readonly kind: 'assert'; readonly at: '^' | '$' | 'b' | 'B' }
  | { readonly kind: 'fail' };

type Inst =
  | { op: 'char'; test: (ch: string) => boolean; next: number }
  | { op: 'split'; next: number; alt: number }
  | { op: 'assert'; at: '^' | '$' | 'b' | 'B'; next: number }
  | { op: 'fail' }
  | { op: 'match' };

/** A compiled pattern; {@link test} answers as `RegExp.prototype.test` would (a search, not a full match). */
export class LinearRegex {
  readonly source: string;
  readonly #program: readonly Inst[];
  readonly #start: number;

  constructor(source: string) {
    this.source = source;
    const parser = new Parser(source);
    const tree = parser.alternation();
    if (parser.pos !== parser.chars.length) throw new SyntaxError(`unexpected ) in /${source}/`);
    const program: Inst[] = [{ op: 'match' }];
    this.#start = compile(tree, 0, program);
    this.#program = program;
  }

  test(text: string): boolean {
    const chars = Array.from(text);
    const program = this.#program;
    // mark[pc] = 1 + the position whose state list holds pc (so each list holds a state once)
    const mark = new Int32Array(program.length);
    let current: number[] = [];
    let next: number[] = [];
    for (let i = 0; ; i++) {
      // a search: a match may start at any position
      if (this.#add(current, this.#start, i, chars, mark)) return true;
      if (i === chars.length) return false;
      const ch = chars[i] as string;
      next.length = 0;
      for (const pc of current) {
        const inst = program[pc] as Extract<Inst, { op: 'char' }>;
        if (inst.test(ch) && this.#add(next, inst.next, i + 1, chars, mark)) return true;
      }
      [current, next] = [next, current];
    }
  }

  /** Adds `pc` and what it reaches without reading (at position `i`) to `list`; true when that matches. */
  #add(list: number[], pc: number, i: number, chars: readonly string[], mark: Int32Array): boolean {
    const stack = [pc];
    while (stack.length > 0) {
      const at = stack.pop() as number;
      if (mark[at] === i + 1) continue;
      mark[at] = i + 1;
      const inst = this.#program[at] as Inst;
      switch (inst.op) {
        case 'match':
          return true;
        case 'char':
          list.push(at);
          break;
        case 'split':
          stack.push(inst.alt, inst.next);
          break;
        case 'assert':
          if (holds(inst.at, chars, i)) stack.push(inst.next);
          break;
        case 'fail':
          break;
      }
    }
    return false;
  }
}

const WORD = /^[A-Za-z0-9_]$/;

function holds(at: '^' | '$' | 'b' | 'B', chars: readonly string[], i: number): boolean {
  if (at === '^') return i === 0;
  if (at === '$') return i === chars.length;
  const boundary = WORD.test(chars[i - 1] ?? '') !== WORD.test(chars[i] ?? '');
  return at === 'b' ? boundary : !boundary;
}

/** Emits `node` so that it continues at `next`; returns its first instruction (built back to front). */
function compile(node: Node, next: number, program: Inst[]): number {
  const emit = (inst: Inst): number => program.push(inst) - 1;
  switch (node.kind) {
    case 'char':
      return emit({ op: 'char', test: node.test, next });
    case 'assert':
      return emit({ op: 'assert', at: node.at, next });
    case 'fail':
      return emit({ op: 'fail' });
    case 'cat': {
      let start = next;
      for (let i = node.items.length - 1; i >= 0; i--) start = compile(node.items[i] as Node, start, program);
      return start;
    }
    case 'alt': {
      let start = compile(node.items[node.items.length - 1] as Node, next, program);
      for (let i = node.items.length - 2; i >= 0; i--) {
        start = emit({ op: 'split', next: compile(node.items[i] as Node, next, program), alt: start });
      }
      return start;
    }
    case '?':
      return emit({ op: 'split', next: compile(node.item, next, program), alt: next });
    case '*':
    case '+': {
      const loop = emit({ op: 'split', next: -1, alt: next });
      const body = compile(node.item, loop, program);
      (program[loop] as Extract<Inst, { op: 'split' }>).next = body;
      return node.kind === '*' ? loop : body;
    }
  }
}

const classes = new Map<string, RegExp>();

class Parser {
  readonly chars: readonly string[];
  pos = 0;

  constructor(readonly source: string) {
    this.chars = Array.from(source);
  }

  alternation(): Node {
    const items = [this.concatenation()];
    while (this.chars[this.pos] === '|') {
      this.pos++;
      items.push(this.concatenation());
    }
    return items.length === 1 ? (items[0] as Node) : { kind: 'alt', items };
  }

  concatenation(): Node {
    const items: Node[] = [];
    for (;;) {
      const c = this.chars[this.pos];
      if (c === undefined || c === '|' || c === ')') break;
      let item = this.atom();
      for (;;) {
        const q = this.chars[this.pos];
        if (q !== '*' && q !== '+' && q !== '?') break;
        this.pos++;
        if (this.chars[this.pos] === '?') this.pos++; // lazy: the same yes/no
        item = { kind: q, item };
      }
      items.push(item);
    }
    return { kind: 'cat', items };
  }

  atom(): Node {
    const c = this.chars[this.pos++] as string;
    switch (c) {
      case '^':
      case '$':
        return { kind: 'assert', at: c };
      case '(': {
        if (this.#eat('?!)')) return { kind: 'fail' };
        if (!this.#eat('?:')) throw this.#unsupported('a capturing or special group');
        const inner = this.alternation();
        if (!this.#eat(')')) throw new SyntaxError(`missing ) in /${this.source}/`);
        return inner;
      }
      case '[':
        return this.#class();
      case '\\': {
        const e = this.chars[this.pos++];
        if (e === 'b' || e === 'B') return { kind: 'assert', at: e };
        if (e === 'u' && this.chars[this.pos] === '{') {
          const end = this.chars.indexOf('}', this.pos);
          const hex = this.chars.slice(this.pos + 1, end).join('');
          this.pos = end + 1;
          return literal(String.fromCodePoint(Number.parseInt(hex, 16)));
        }
        if (e === undefined || /[0-9A-Za-z]/.test(e)) throw this.#unsupported(`\\${e ?? ''}`);
        return literal(e);
      }
      case '.':
      case '{':
      case '}':
      case '*':
      case '+':
      case '?':
        throw this.#unsupported(c);
      default:
        return literal(c);
    }
  }

  /** A class up to its first unescaped `]`, tested with a one-character RegExp of the same text. */
  #class(): Node {
    const start = this.pos - 1;
    for (;;) {
      const c = this.chars[this.pos++];
      if (c === undefined) throw new SyntaxError(`missing ] in /${this.source}/`);
      if (c === '\\') this.pos++;
      else if (c === ']') break;
    }
    const text = this.chars.slice(start, this.pos).join('');
    let re = classes.get(text);
    if (!re) {
      re = new RegExp(`^${text}$`, 'u');
      if (classes.size > 1024) classes.clear();
      classes.set(text, re);
    }
    const tester = re;
    return { kind: 'char', test: (ch) => tester.test(ch) };
  }

  #eat(text: string): boolean {
    const chars = Array.from(text);
    for (let i = 0; i < chars.length; i++) if (this.chars[this.pos + i] !== chars[i]) return false;
    this.pos += chars.length;
    return true;
  }

  #unsupported(what: string): SyntaxError {
    return new SyntaxError(`${what} is not supported by the linear matcher (in /${this.source}/)`);
  }
}

function literal(ch: string): Node {
  return { kind: 'char', test: (c) => c === ch };
}
