/**
 * One AST node → one IR instruction, as BuildKit's `instructions/parse.go`: argument counts, flags and
 * BuildKit's error wording first, then the typed fields. One function per instruction behind one switch.
 */
import type {
  AddInstruction,
  ArgInstruction,
  Command,
  CopyInstruction,
  FromRef,
  HealthcheckInstruction,
  Heredoc,
  Instruction,
  KeyValue,
  RunInstruction,
  Word,
} from '../../ir/types.js';
import { type EscapeToken, type Node, nodeArgs, parseHeredocWord } from '../parse/index.js';
import { problem } from './errors.js';
import { parseFlags } from './flags.js';
import { parseGoDuration } from './go.js';
import { parseMount } from './mounts.js';
import { hasExpansion, toWord } from './words.js';

/** What lowering an instruction needs from the rest of the file. */
export interface InstructionContext {
  readonly escapeToken: EscapeToken;
  /** `COPY --from` / `--mount from=`: a stage name or index → stage, else an image. */
  readonly resolveFrom: (word: Word) => FromRef;
}

/** The instruction without `source` and `comments` (the caller adds them). */
export function lowerInstruction(node: Node, ctx: InstructionContext): Instruction {
  const keyword = node.value.toLowerCase();
  switch (keyword) {
    case 'run':
      return lowerRun(node, ctx);
    case 'copy':
      return lowerCopy(node, ctx);
    case 'add':
      return lowerAdd(node, ctx);
    case 'workdir':
      return { kind: 'workdir', path: oneWord(node, ctx) };
    case 'user':
      return { kind: 'user', user: oneWord(node, ctx) };
    case 'stopsignal':
      return { kind: 'stopsignal', signal: oneWord(node, ctx) };
    case 'maintainer':
      return lowerMaintainer(node);
    case 'env':
      return { kind: 'env', vars: keyValues(node, ctx) };
    case 'label':
      return { kind: 'label', labels: keyValues(node, ctx) };
    case 'arg':
      return lowerArg(node, ctx);
    case 'expose':
      return { kind: 'expose', ports: atLeastOne(node).map((port) => toWord(port, ctx.escapeToken)) };
    case 'volume':
      return lowerVolume(node, ctx);
    case 'cmd':
      return { kind: 'cmd', command: command(node) };
    case 'entrypoint':
      return { kind: 'entrypoint', command: command(node) };
    case 'shell':
      return lowerShell(node);
    case 'healthcheck':
      return lowerHealthcheck(node);
    case 'onbuild':
      return lowerOnbuild(node, ctx);
    case 'from':
      throw problem('FROM is handled by the stage reader'); // unreachable: lowerDockerfile splits stages
    default:
      throw problem(
        `unknown instruction: ${node.value}`,
        'instructions are FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, LABEL, EXPOSE, VOLUME, CMD, ENTRYPOINT, HEALTHCHECK, SHELL, STOPSIGNAL, ONBUILD',
      );
  }
}

const keywordOf = (node: Node) => node.value.toUpperCase();

function noFlags(node: Node) {
  parseFlags(node.flags, {});
}

function atLeastOne(node: Node): string[] {
  const args = nodeArgs(node);
  if (args.length === 0) throw problem(`${keywordOf(node)} requires at least one argument`);
  noFlags(node);
  return args;
}

function oneWord(node: Node, ctx: InstructionContext): Word {
  const args = nodeArgs(node);
  if (args.length !== 1) throw problem(`${keywordOf(node)} requires exactly one argument`);
  noFlags(node);
  return toWord(args[0] as string, ctx.escapeToken);
}

function lowerMaintainer(node: Node): Instruction {
  const args = nodeArgs(node);
  if (args.length !== 1) throw problem('MAINTAINER requires exactly one argument');
  noFlags(node);
  return { kind: 'maintainer', name: args[0] as string };
}

/** ENV and LABEL: the parser's key/value/separator triples. */
function keyValues(node: Node, ctx: InstructionContext): KeyValue[] {
  const args = atLeastOne(node);
  const pairs: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    const key = args[i] as string;
    if (key === '') throw problem(`${keywordOf(node)} names can not be blank`);
    pairs.push({ key: toWord(key, ctx.escapeToken), value: toWord(args[i + 1] ?? '', ctx.escapeToken) });
  }
  return pairs;
}

function lowerArg(node: Node, ctx: InstructionContext): ArgInstruction {
  const args = atLeastOne(node);
  return {
    kind: 'arg',
    args: args.map((arg) => {
      const eq = arg.indexOf('=');
      if (eq < 0) return { name: arg };
      return { name: arg.slice(0, eq), default: toWord(arg.slice(eq + 1), ctx.escapeToken) };
    }),
  };
}

function lowerVolume(node: Node, ctx: InstructionContext): Instruction {
  const paths = atLeastOne(node).map((raw) => {
    const path = raw.trim();
    if (path === '') throw problem('VOLUME specified can not be an empty string');
    return toWord(path, ctx.escapeToken);
  });
  return { kind: 'volume', paths };
}

/** Exec form (JSON) or shell form; no flags (CMD, ENTRYPOINT). */
function command(node: Node): Command {
  noFlags(node);
  return commandOf(node);
}

function commandOf(node: Node): Command {
  const args = nodeArgs(node);
  if (node.attributes.json) return { form: 'exec', argv: args };
  return { form: 'shell', script: args.join(' ') };
}

function lowerShell(node: Node): Instruction {
  if (!node.attributes.json) {
    throw problem('SHELL requires the arguments to be in JSON form', 'SHELL ["/bin/bash", "-c"]');
  }
  const argv = atLeastOne(node);
  return { kind: 'shell', argv };
}

function lowerRun(node: Node, ctx: InstructionContext): RunInstruction {
  const flags = parseFlags(node.flags, {
    mount: 'strings',
    network: 'string',
    security: 'string',
    device: 'unsupported',
  });
  const cmd = commandOf(node);
  if (cmd.form === 'shell' && cmd.script === '') throw problem('RUN requires at least one argument');
  const mounts = flags.strings('mount').map((value) => parseMount(value, ctx));
  const network = flags.string('network');
  if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
    throw problem(`unsupported network mode "${network}"`, 'use default, none or host');
  }
  const security = flags.string('security');
  if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
    throw problem(`unsupported security mode "${security}"`, 'use sandbox or insecure');
  }
  const heredocs = cmd.form === 'shell' ? node.heredocs.map(irHeredoc) : [];
  return {
    kind: 'run',
    command: cmd,
    ...(mounts.length ? { mounts } : {}),
    ...(network === undefined ? {} : { network }),
    ...(security === undefined ? {} : { security }),
    ...(heredocs.length ? { heredocs } : {}),
  };
}

const irHeredoc = (h: Node['heredocs'][number]): Heredoc => ({
  name: h.name,
  content: h.content,
  expand: h.expand,
  chomp: h.chomp,
});

/** COPY/ADD sources, destination and heredoc sources (BuildKit's `parseSourcesAndDest`). */
function sourcesAndDest(node: Node, ctx: InstructionContext) {
  const keyword = keywordOf(node);
  const args = nodeArgs(node);
  if (args.length < 2) {
    throw problem(
      `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`,
      `${keyword} <src>... <dest>`,
    );
  }
  const dest = args.at(-1) as string;
  const json = node.attributes.json;
  if (!json && parseHeredocWord(dest)) throw problem(`${keyword} cannot accept a heredoc as a destination`);
  const sources: Word[] = [];
  const heredocs: Heredoc[] = [];
  for (const src of args.slice(0, -1)) {
    const header = json ? undefined : parseHeredocWord(src);
    if (header) {
      const body = node.heredocs.find((h) => h.name === header.name);
      heredocs.push({
        name: header.name,
        content: body?.content ?? '',
        expand: header.expand,
        chomp: header.chomp,
      });
    } else sources.push(toWord(src, ctx.escapeToken));
  }
  return {
    sources,
    dest: toWord(dest, ctx.escapeToken),
    ...(heredocs.length ? { heredocs } : {}),
  };
}

function ownership(flags: ReturnType<typeof parseFlags>, ctx: InstructionContext) {
  const word = (name: string) => {
    const value = flags.string(name);
    return value === undefined || value === '' ? undefined : toWord(value, ctx.escapeToken);
  };
  const chown = word('chown');
  const chmod = word('chmod');
  const exclude = flags.strings('exclude').map((p) => toWord(p, ctx.escapeToken));
  return {
    ...(chown === undefined ? {} : { chown }),
    ...(chmod === undefined ? {} : { chmod }),
    ...(flags.bool('link') ? { link: true } : {}),
    ...(exclude.length ? { exclude } : {}),
  };
}

function lowerCopy(node: Node, ctx: InstructionContext): CopyInstruction {
  const files = sourcesAndDest(node, ctx);
  const flags = parseFlags(node.flags, {
    from: 'string',
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    parents: 'bool',
    exclude: 'strings',
  });
  const from = flags.string('from');
  if (from !== undefined && hasExpansion(toWord(from, ctx.escapeToken))) {
    // Current BuildKit's wording; a variable stage reference cannot be ordered before the build.
    throw problem(
      'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
      `add a stage "FROM ${from} AS source" (with a global ARG) and copy with --from=source`,
    );
  }
  return {
    kind: 'copy',
    ...files,
    ...ownership(flags, ctx),
    ...(from === undefined || from === '' ? {} : { from: ctx.resolveFrom(toWord(from, ctx.escapeToken)) }),
    ...(flags.bool('parents') ? { parents: true } : {}),
  };
}

function lowerAdd(node: Node, ctx: InstructionContext): AddInstruction {
  const files = sourcesAndDest(node, ctx);
  const flags = parseFlags(node.flags, {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    exclude: 'strings',
    checksum: 'string',
    'keep-git-dir': 'bool',
    unpack: 'unsupported',
  });
  const checksum = flags.string('checksum');
  return {
    kind: 'add',
    ...files,
    ...ownership(flags, ctx),
    ...(checksum === undefined || checksum === '' ? {} : { checksum: toWord(checksum, ctx.escapeToken) }),
    ...(flags.bool('keep-git-dir') ? { keepGitDir: true } : {}),
  };
}

/** Go durations of at least 1ms (0 means "the default"); kept as written. */
function duration(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const ns = parseGoDuration(value);
  if (ns !== 0 && ns < 1e6) throw problem(`Interval "${name}" cannot be less than 1ms`);
  return value;
}

function lowerHealthcheck(node: Node): HealthcheckInstruction {
  const args = nodeArgs(node);
  if (args.length === 0) throw problem('HEALTHCHECK requires at least one argument');
  const type = (args[0] as string).toUpperCase();
  const rest = args.slice(1);
  if (type === 'NONE') {
    if (rest.length !== 0) throw problem('HEALTHCHECK NONE takes no arguments');
    return { kind: 'healthcheck', check: { test: 'none' } };
  }
  if (type !== 'CMD') throw problem(`Unknown type "${args[0]}" in HEALTHCHECK (try CMD)`);
  const flags = parseFlags(node.flags, {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  });
  if (rest.length === 0) throw problem('Missing command after HEALTHCHECK CMD');
  const cmd: Command = node.attributes.json
    ? { form: 'exec', argv: rest }
    : { form: 'shell', script: rest.join(' ') };
  const interval = duration('interval', flags.string('interval'));
  const timeout = duration('timeout', flags.string('timeout'));
  const startPeriod = duration('start-period', flags.string('start-period'));
  const startInterval = duration('start-interval', flags.string('start-interval'));
  const retriesText = flags.string('retries');
  let retries: number | undefined;
  if (retriesText !== undefined && retriesText !== '') {
    if (!/^[+-]?\d+$/.test(retriesText) || Math.abs(Number(retriesText)) > 2 ** 31 - 1) {
      throw problem(`strconv.ParseInt: parsing "${retriesText}": invalid syntax`);
    }
    retries = Number(retriesText);
    if (retries < 0) throw problem(`--retries cannot be negative (${retries})`);
  }
  return {
    kind: 'healthcheck',
    check: {
      test: 'cmd',
      command: cmd,
      ...(interval === undefined ? {} : { interval }),
      ...(timeout === undefined ? {} : { timeout }),
      ...(startPeriod === undefined ? {} : { startPeriod }),
      ...(startInterval === undefined ? {} : { startInterval }),
      ...(retries === undefined ? {} : { retries }),
    },
  };
}

function lowerOnbuild(node: Node, ctx: InstructionContext): Instruction {
  const inner = node.next?.children[0];
  if (inner === undefined) throw problem('ONBUILD requires at least one argument');
  noFlags(node);
  const keyword = inner.value.toLowerCase();
  if (keyword === 'onbuild') throw problem("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (keyword === 'from' || keyword === 'maintainer') {
    throw problem(`${inner.value.toUpperCase()} isn't allowed as an ONBUILD trigger`);
  }
  // The trigger runs in a later build: its --from names that build's stages, so keep them as written.
  const triggerCtx: InstructionContext = {
    escapeToken: ctx.escapeToken,
    resolveFrom: (word) => ({ kind: 'image', ref: word }),
  };
  const instruction = lowerInstruction({ ...inner, heredocs: node.heredocs }, triggerCtx);
  if (instruction.kind === 'onbuild' || instruction.kind === 'maintainer')
    throw problem("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"); // unreachable: checked above
  return { kind: 'onbuild', instruction };
}
