/**
 * IR → an idiomatic `build.ts` (`wharf convert`): one `const` per stage named after it in camelCase, method
 * chains one call per line, mounts as `cache()`/`bind()`/`secret()`/`ssh()`/`tmpfs()`, `sh('…')` for
 * shell-form CMD/ENTRYPOINT/HEALTHCHECK, instruction comments as `//` lines, and `define({ args, target,
 * context })` when the build has global ARGs, several stages or a context of its own. Loading the file gives
 * the graph back (modulo sources and comments; see README.md for the few places the DSL differs).
 *
 * @example
 * generateBuildTs(lowerDockerfile('FROM alpine AS app\nCMD ["sh"]\n'))
 * // import { stage } from '@wharf/core';
 * //
 * // const app = stage('app')
 * //   .from('alpine')
 * //   .cmd(['sh']);
 * //
 * // export default app;
 */
import { WharfError } from '../../errors.js';
import { stageDependencies } from '../../ir/graph.js';
import { normalizeScript } from '../../ir/script.js';
import type {
  AddInstruction,
  BuildGraph,
  Command,
  CopyInstruction,
  FromRef,
  Heredoc,
  Instruction,
  KeyValue,
  Mount,
  RunInstruction,
  Stage,
} from '../../ir/types.js';
import { FOLD_WIDTH, topLevelAnds, topLevelBlankRuns } from '../emit/fold.js';
import {
  Call,
  Chain,
  exactTemplate,
  inline,
  isIdentifier,
  Raw,
  renderArgs,
  templateBlock,
  type Value,
} from './js.js';

export type CodegenErrorCode = 'CODEGEN_UNSUPPORTED';

export interface CodegenOptions {
  /** The module the DSL is imported from. Default `@wharf/core`. */
  readonly importFrom?: string;
  /** Named in the header comment, e.g. `Dockerfile`. */
  readonly sourceName?: string;
}

/** The names the generated file can import; a stage variable must not shadow them. */
const DSL_NAMES = [
  'bind',
  'buildPlatform',
  'cache',
  'context',
  'define',
  'heredoc',
  'image',
  'secret',
  'sh',
  'ssh',
  'stage',
  'tmpfs',
] as const;
type DslName = (typeof DSL_NAMES)[number];

/**
 * An idiomatic build.ts for a graph (`wharf convert`): loading it gives the graph back.
 * @example writeFileSync('build.ts', generateBuildTs(lowerDockerfile(readFileSync('Dockerfile', 'utf8'))))
 */
export function generateBuildTs(graph: BuildGraph, options: CodegenOptions = {}): string {
  const gen = new Generator(graph);
  const stages = graph.stages.map((stage) => gen.stage(stage));
  const footer = gen.footer();
  const imports = [...gen.imports].sort();
  const from = options.importFrom ?? '@wharf/core';
  const header = [
    `// Converted from ${options.sourceName ?? 'a Dockerfile'} by \`wharf convert\`.`,
    ...commentLines(graph.comments, ''),
  ].join('\n');
  const parts = [header, `import { ${imports.join(', ')} } from ${inline(from)};`, ...stages, footer];
  return `${parts.join('\n\n')}\n`;
}

/** Dockerfile comment lines as `//` lines (a comment holding a newline becomes several). */
function commentLines(comments: readonly string[] | undefined, indent: string): string[] {
  return (comments ?? []).flatMap((comment) =>
    comment.split(/\r?\n/).map((text) => (text === '' ? `${indent}//` : `${indent}// ${text}`)),
  );
}

class Generator {
  readonly imports = new Set<DslName>();
  readonly #vars = new Map<string, string>();

  constructor(private readonly graph: BuildGraph) {
    const used = new Set<string>(DSL_NAMES);
    const target = graph.target ?? graph.stages.at(-1)?.name;
    for (const stage of graph.stages) {
      // The unnamed stage the build makes is the image itself, not "stage3".
      const base = stage.name === target && ANONYMOUS.test(stage.name) ? 'final' : variableName(stage.name);
      let name = base;
      if (used.has(name)) name = `${name}Stage`;
      for (let n = 2; used.has(name); n++) name = `${base}${n}`;
      used.add(name);
      this.#vars.set(stage.name, name);
    }
  }

  #use<T extends DslName>(name: T): T {
    this.imports.add(name);
    return name;
  }

  /** `--platform=$BUILDPLATFORM` reads as the typed `buildPlatform`; any other value stays text. */
  #platform(platform: string): Value {
    return platform === '$BUILDPLATFORM' ? new Raw(this.#use('buildPlatform')) : platform;
  }

  #var(stage: string): Raw {
    const name = this.#vars.get(stage);
    if (name === undefined) throw new WharfError('CODEGEN_UNSUPPORTED', `unknown stage "${stage}"`);
    return new Raw(name);
  }

  stage(stage: Stage): string {
    const variable = this.#var(stage.name).code;
    const start = ANONYMOUS.test(stage.name)
      ? `${this.#use('stage')}()`
      : `${this.#use('stage')}(${inline(stage.name)})`;
    const base: Value =
      stage.base.kind === 'scratch'
        ? 'scratch'
        : stage.base.kind === 'image'
          ? stage.base.ref
          : this.#var(stage.base.stage);
    const calls: { call: Call; comments: readonly string[] }[] = [
      {
        call: new Call(
          'from',
          stage.platform === undefined ? [base] : [base, { platform: this.#platform(stage.platform) }],
        ),
        comments: [],
      },
    ];
    for (const instruction of stage.instructions) {
      const at = this.#located(stage, instruction);
      const made = at(() => this.#instruction(instruction));
      made.forEach((call, i) => {
        calls.push({ call, comments: i === 0 ? (instruction.comments ?? []) : [] });
      });
    }
    const lines = [...commentLines(stage.comments, ''), `const ${variable} = ${start}`];
    for (const { call, comments } of calls) {
      lines.push(...commentLines(comments, '  '));
      const head = `  .${call.callee}(`;
      lines.push(`${head}${renderArgs(call.args, '  ', head.length)})`);
    }
    return `${lines.join('\n')};`;
  }

  #located(stage: Stage, instruction: Instruction) {
    return <T>(fn: () => T): T => {
      try {
        return fn();
      } catch (error) {
        if (error instanceof WharfError && error.location === undefined) {
          throw new WharfError(
            error.code,
            `stage "${stage.name}", ${instruction.kind.toUpperCase()}: ${error.message}`,
            {
              hint: error.hint,
              location: instruction.source,
            },
          );
        }
        throw error;
      }
    };
  }

  footer(): string {
    const { graph } = this;
    const last = graph.stages.at(-1);
    if (last === undefined) throw new WharfError('CODEGEN_UNSUPPORTED', 'the build has no stages');
    const target = this.#var(graph.target ?? last.name);
    const ownContext = graph.context.dir !== '.' || graph.context.ignore !== undefined;
    const directives = graph.directives ?? {};
    const hasDirectives = Object.keys(directives).length > 0;
    if (graph.args.length === 0 && graph.stages.length === 1 && !ownContext && !hasDirectives)
      return `export default ${target.code};`;
    const definition: Record<string, Value> = {};
    if (graph.args.length > 0) {
      const names = graph.args.map((a) => a.name);
      // A repeated global ARG (`ARG X=one` / `ARG X=${X}-two`) needs the ordered list form.
      definition.args =
        new Set(names).size === names.length
          ? Object.fromEntries(graph.args.map((a) => [a.name, a.default ?? new Raw('undefined')]))
          : graph.args.map((a) => (a.default === undefined ? [a.name] : [a.name, a.default]));
    }
    definition.target = target;
    // Every stage stays buildable with --target: the ones the target does not use are listed as targets.
    const used = new Set(graph.stages.flatMap((s) => stageDependencies(s)));
    const targetStage = graph.target ?? last.name;
    const others = graph.stages.filter((s) => s.name !== targetStage && !used.has(s.name));
    if (others.length > 0) {
      definition.targets = Object.fromEntries(others.map((s) => [s.name, this.#var(s.name)]));
    }
    if (hasDirectives) definition.directives = { ...directives };
    if (ownContext) {
      const ctx = new Call(this.#use('context'), [graph.context.dir]);
      definition.context =
        graph.context.ignore === undefined
          ? ctx
          : new Call(`${inline(ctx)}.ignore`, [[...graph.context.ignore]]);
    }
    const head = `export default ${this.#use('define')}(`;
    return `${head}${renderArgs([definition], '', head.length, 2)});`;
  }

  // One function per instruction, reached from one exhaustive switch; each returns the DSL calls.
  #instruction(i: Instruction): Call[] {
    switch (i.kind) {
      case 'run':
        return [this.#run(i)];
      case 'copy':
        return [this.#copy(i)];
      case 'add':
        return [this.#add(i)];
      case 'workdir':
        return [new Call('workdir', [i.path])];
      case 'env':
        return groups(i.vars).map((vars) => new Call('env', [record(vars)]));
      case 'label':
        return groups(i.labels).map((labels) => new Call('label', [record(labels)]));
      case 'arg': {
        const pairs = i.args.map((a) => ({ key: a.name, value: a.default }));
        return groups(pairs).map((group) => {
          const [only] = group;
          if (group.length === 1 && only)
            return new Call('arg', only.value === undefined ? [only.key] : [only.key, only.value]);
          return new Call('arg', [
            Object.fromEntries(group.map((a) => [a.key, a.value ?? new Raw('undefined')])),
          ]);
        });
      }
      case 'expose':
        return [
          new Call(
            'expose',
            i.ports.map((p) => (/^[1-9]\d{0,4}$/.test(p) ? Number(p) : p)),
          ),
        ];
      case 'volume':
        return [new Call('volume', [...i.paths])];
      case 'user':
        return [new Call('user', [i.user])];
      case 'cmd':
        return [new Call('cmd', [this.#command(i.command)])];
      case 'entrypoint':
        return [new Call('entrypoint', [this.#command(i.command)])];
      case 'healthcheck': {
        const { check } = i;
        if (check.test === 'none') return [new Call('healthcheck', ['none'])];
        const opts = {
          interval: check.interval,
          timeout: check.timeout,
          startPeriod: check.startPeriod,
          startInterval: check.startInterval,
          retries: check.retries,
        };
        const test = this.#command(check.command);
        return [
          new Call('healthcheck', Object.values(opts).some((v) => v !== undefined) ? [test, opts] : [test]),
        ];
      }
      case 'stopsignal':
        return [new Call('stopsignal', [i.signal])];
      case 'shell':
        return [new Call('shell', [[...i.argv]])];
      case 'maintainer':
        return [new Call('maintainer', [i.name])];
      case 'onbuild':
        return [new Call('onbuild', [new Chain('trigger', this.#instruction(i.instruction))])];
    }
  }

  #command(command: Command): Value {
    return command.form === 'exec' ? [...command.argv] : new Call(this.#use('sh'), [command.script]);
  }

  #run(run: RunInstruction): Call {
    const script =
      run.command.form === 'exec'
        ? { value: [...run.command.argv], asScript: false }
        : scriptValue(
            run.heredocs?.length ? heredocScript(run.command.script, run.heredocs) : run.command.script,
          );
    const options: Record<string, Value> = {};
    if (run.mounts?.length) options.mounts = run.mounts.map((m) => this.#mount(m));
    if (run.network !== undefined) options.network = run.network;
    if (run.security !== undefined) options.security = run.security;
    if (script.asScript) options.asScript = true;
    return new Call('run', Object.keys(options).length ? [script.value, options] : [script.value]);
  }

  #mount(m: Mount): Call {
    switch (m.type) {
      case 'cache': {
        const { type, target, from, ...rest } = m;
        return this.#mountCall(type, [target], { ...rest, ...(from ? { from: this.#from(from) } : {}) });
      }
      case 'bind': {
        const { type, target, from, ...rest } = m;
        return this.#mountCall(type, [target], { ...rest, ...(from ? { from: this.#from(from) } : {}) });
      }
      case 'secret': {
        // secret() needs an id; BuildKit's default is the target's base name.
        const { type, id, ...rest } = m;
        const fallback = m.target?.split('/').filter(Boolean).at(-1) ?? '';
        return this.#mountCall(type, [id ?? fallback], rest);
      }
      case 'ssh': {
        const { type, ...rest } = m;
        return this.#mountCall(type, [], rest);
      }
      case 'tmpfs': {
        const { type, target, ...rest } = m;
        return this.#mountCall(type, [target], rest);
      }
    }
  }

  #mountCall(type: Mount['type'], args: Value[], options: Record<string, Value>): Call {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    return new Call(this.#use(type), Object.keys(defined).length ? [...args, defined] : args);
  }

  #from(from: FromRef): Value {
    if (from.kind === 'stage') return this.#var(from.stage);
    if (from.kind === 'image') return new Call(this.#use('image'), [from.ref]);
    const spec = this.graph.namedContexts[from.name];
    const ctx = new Call(this.#use('context'), [spec?.dir ?? from.name, { name: from.name }]);
    return spec?.ignore === undefined ? ctx : new Call(`${inline(ctx)}.ignore`, [[...spec.ignore]]);
  }

  #fileOptions(i: CopyInstruction | AddInstruction): Record<string, Value> {
    return {
      chown: i.chown,
      chmod: i.chmod,
      link: i.link,
      exclude: i.exclude ? [...i.exclude] : undefined,
    };
  }

  /** Path sources, and heredoc sources as `heredoc()` files (the IR keeps them apart: order is not kept). */
  #sources(i: CopyInstruction | AddInstruction): Value {
    const files = (i.heredocs ?? []).map((h) => {
      // One line (with its newline) reads best as a string; more as a template literal, byte for byte.
      const oneLine = h.content.indexOf('\n') === h.content.length - 1;
      const content = oneLine || !h.content.includes('\n') ? h.content : new Raw(exactTemplate(h.content));
      const options = { ...(h.expand ? { expand: true } : {}), ...(h.chomp ? { chomp: true } : {}) };
      return new Call(
        this.#use('heredoc'),
        Object.keys(options).length ? [h.name, content, options] : [h.name, content],
      );
    });
    const all: Value[] = [...files, ...i.sources];
    return all.length === 1 ? (all[0] as Value) : all;
  }

  #copy(copy: CopyInstruction): Call {
    const options = { ...this.#fileOptions(copy), parents: copy.parents };
    const args: Value[] = [this.#sources(copy), copy.dest];
    if (copy.from) args.unshift(this.#from(copy.from));
    return withOptions('copy', args, options);
  }

  #add(add: AddInstruction): Call {
    const options = { ...this.#fileOptions(add), checksum: add.checksum, keepGitDir: add.keepGitDir };
    return withOptions('add', [this.#sources(add), add.dest], options);
  }
}

const ANONYMOUS = /^stage-\d+(-\d+)*$/;

/** `build-env` → `buildEnv`, `stage-0` → `stage0`; never a reserved word. */
export function variableName(stageName: string): string {
  const parts = stageName.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const camel = parts
    .map((p, i) =>
      i === 0 ? p.charAt(0).toLowerCase() + p.slice(1) : p.charAt(0).toUpperCase() + p.slice(1),
    )
    .join('');
  const name = /^[A-Za-z_]/.test(camel) ? camel : `stage${camel}`;
  return isIdentifier(name) ? name : `${name}Stage`;
}

/**
 * `\`-continued lines where the Dockerfile had them, as far as the joined script shows: at each top-level
 * `&&` (after it when blanks follow it, else before it after the first blank in front of it) and after the
 * first blank of each top-level run of blanks (a continuation line's indentation). Joining gives the script
 * back byte for byte; the blanks become the lines' indentation again.
 */
function foldForReading(script: string): string[] {
  const cuts = new Set<number>();
  for (const at of topLevelAnds(script)) {
    if (/^&&[ \t]/.test(script.slice(at, at + 3))) cuts.add(at + 3);
    else {
      let blank = at;
      while (blank > 0 && /[ \t]/.test(script[blank - 1] as string)) blank--;
      cuts.add(blank + 1);
    }
  }
  for (const at of topLevelBlankRuns(script)) cuts.add(at + 1);
  const lines: string[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut <= start || cut >= script.length) continue;
    lines.push(`${script.slice(start, cut)}\\`);
    start = cut;
  }
  lines.push(script.slice(start));
  return lines;
}

/**
 * A RUN script as the DSL's `run()` gives it back exactly: a short line as a string; a long line (or one
 * with tabs, the indentation of joined continuation lines) folded at
 * its top-level `&&` into `\`-continued lines (the DSL joins them as a Dockerfile does); several lines as an
 * indented template literal, with `asScript` when joining them with `&&` would change the script.
 */
function scriptValue(script: string): { value: Value; asScript: boolean } {
  if (!script.includes('\n')) {
    // a tab is a joined continuation line's indentation: fold it back rather than write a `\t` escape
    const lines = script.length > FOLD_WIDTH || script.includes('\t') ? foldForReading(script) : [script];
    if (lines.length > 1) {
      const block = templateBlock(lines.join('\n'), '  ');
      if (normalizeScript(block.value) === script) return { value: new Raw(block.code), asScript: false };
    }
    return { value: script, asScript: false };
  }
  const block = templateBlock(script, '  ');
  if (normalizeScript(block.value) === script) return { value: new Raw(block.code), asScript: false };
  if (normalizeScript(block.value, { join: false }) === script)
    return { value: new Raw(block.code), asScript: true };
  // lines that all share an indentation (a heredoc body written indented): the block layout would lose it,
  // so the template literal starts right at the text, which `run()` keeps as it is
  if (normalizeScript(script, { join: false }) === script)
    return { value: new Raw(exactTemplate(script)), asScript: true };
  return { value: script, asScript: true };
}

function withOptions(method: string, args: Value[], options: Record<string, Value>): Call {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return new Call(method, Object.keys(defined).length ? [...args, defined] : args);
}

/** Object keys a JS object literal keeps in order and once: duplicates and array indices start a new call. */
function groups<T extends { readonly key: string }>(pairs: readonly T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  for (const pair of pairs) {
    const index = /^(0|[1-9]\d{0,8})$/.test(pair.key);
    if (
      current.some((p) => p.key === pair.key) ||
      (index && current.length > 0) ||
      current.some((p) => /^(0|[1-9]\d{0,8})$/.test(p.key))
    ) {
      out.push(current);
      current = [];
    }
    current.push(pair);
  }
  if (current.length) out.push(current);
  return out;
}

function record(pairs: readonly KeyValue[]): Value {
  return Object.fromEntries(pairs.map((p) => [p.key, p.value]));
}

/**
 * A RUN with heredocs as the one shell script BuildKit runs for it: a lone `<<EOF` is the body itself (run by
 * the shell, or as a script file when it starts with `#!` — the emitter writes it back that way); otherwise
 * the command line with each body and delimiter after it, which the shell reads as its own heredocs.
 */
export function heredocScript(command: string, heredocs: readonly Heredoc[]): string {
  const [only] = heredocs;
  if (heredocs.length === 1 && only && /^<<-?(["']?)([^\s"']+)\1$/.test(command.trim())) {
    const body = only.chomp ? only.content.replace(/(^|\n)\t+/g, '$1') : only.content;
    return body.replace(/\n$/, '');
  }
  return [command, ...heredocs.map((h) => `${h.content}${h.name}`)].join('\n');
}
