/**
 * BuildKit's build checks, under BuildKit's names (https://docs.docker.com/reference/build-checks/).
 * Three read spellings the IR normalises away (FromAsCasing, LegacyKeyValueFormat, DuplicateStageName,
 * and StageNameCasing for Dockerfiles): they look at the Dockerfile's AST, so they never fire for a
 * build.ts, where that syntax does not exist.
 */

import { type Node, nodeArgs } from '../../dockerfile/parse/index.js';
import { closest, type SourceLocation } from '../../errors.js';
import { looksSecret } from '../../ir/secret-names.js';
import type { Instruction, Stage } from '../../ir/types.js';
import type { LintContext } from '../context.js';
import { defineRule, hit } from './define.js';

const AUTOMATIC_PLATFORM_ARGS = new Set(
  ['BUILD', 'TARGET'].flatMap((p) => ['PLATFORM', 'OS', 'ARCH', 'VARIANT'].map((s) => `${p}${s}`)),
);
/** Variables base images commonly set, which a static check cannot see (it does not pull the base). */
const BASE_IMAGE_ENV = new Set([
  'PATH',
  'HOME',
  'HOSTNAME',
  'LANG',
  'LC_ALL',
  'TERM',
  'USER',
  'SHELL',
  'PWD',
]);

/** Names a Word refers to without a default (`$A`, `${A}`, `${A#x}`; not `${A:-x}`, `${A+x}`, `${A?x}`). */
export function bareVariables(word: string): string[] {
  const names: string[] = [];
  for (const m of word.matchAll(/(\\*)\$(\{)?([A-Za-z_][A-Za-z0-9_]*)(.)?/g)) {
    const [, slashes = '', brace, name = '', after] = m;
    if (slashes.length % 2 === 1) continue;
    if (brace && after !== undefined && /[-+?:]/.test(after)) continue;
    names.push(name);
  }
  return names;
}

/** FROM nodes of a Dockerfile, with their stage name as written. */
function fromNodes(ctx: LintContext): { node: Node; at: SourceLocation; args: string[] }[] {
  const df = ctx.dockerfile;
  if (!df) return [];
  return df.ast.children
    .filter((n) => n.value.toLowerCase() === 'from')
    .map((node) => ({ node, at: nodeLocation(df.file, node), args: nodeArgs(node) }));
}

export function nodeLocation(file: string, node: Node): SourceLocation {
  return { file, line: node.startLine, column: 1, endLine: node.endLine };
}

export const SecretsUsedInArgOrEnv = defineRule<{ keyword: string; name: string }>({
  id: 'SecretsUsedInArgOrEnv',
  source: 'buildkit',
  severity: 'warning',
  summary: 'Sensitive data should not be used in the ARG or ENV commands',
  message: ({ keyword, name }) =>
    `${keyword} ${name} looks like a secret: ARG and ENV values are kept in the image's history and config`,
  fix: () => 'pass it as a secret mount: RUN --mount=type=secret,id=… (secret() in build.ts)',
  *check(ctx) {
    for (const arg of ctx.graph.args) {
      if (looksSecret(arg.name))
        yield hit(globalArgLocation(ctx, arg.name), { keyword: 'ARG', name: arg.name }, arg.name);
    }
    for (const { instruction: i } of ctx.instructions) {
      const names =
        i.kind === 'arg' ? i.args.map((a) => a.name) : i.kind === 'env' ? i.vars.map((v) => v.key) : [];
      for (const name of names.filter(looksSecret))
        yield hit(i.source, { keyword: i.kind.toUpperCase(), name }, name);
    }
  },
});

/** A global ARG's line in a Dockerfile; the final stage otherwise (build.ts args have no call site). */
function globalArgLocation(ctx: LintContext, name: string): SourceLocation | undefined {
  const df = ctx.dockerfile;
  if (df) {
    for (const node of df.ast.children) {
      if (node.value.toLowerCase() === 'from') break;
      if (node.value.toLowerCase() === 'arg' && nodeArgs(node).some((a) => a.split('=')[0] === name)) {
        return nodeLocation(df.file, node);
      }
    }
  }
  return ctx.finalLocation;
}

/** The Words of an instruction that BuildKit expands (RUN and exec forms are not expanded). */
function expandedWords(i: Instruction): string[] {
  switch (i.kind) {
    case 'workdir':
      return [i.path];
    case 'env':
      return i.vars.map((v) => v.value);
    case 'label':
      return i.labels.flatMap((l) => [l.key, l.value]);
    case 'user':
      return [i.user];
    case 'expose':
      return [...i.ports];
    case 'volume':
      return [...i.paths];
    case 'stopsignal':
      return [i.signal];
    case 'arg':
      return i.args.flatMap((a) => (a.default === undefined ? [] : [a.default]));
    case 'copy':
    case 'add':
      return [...i.sources, i.dest, ...(i.chown ? [i.chown] : []), ...(i.chmod ? [i.chmod] : [])];
    default:
      return [];
  }
}

/** Names an instruction defines for the instructions after it. */
function defines(i: Instruction): string[] {
  if (i.kind === 'arg') return i.args.map((a) => a.name);
  if (i.kind === 'env') return i.vars.map((v) => v.key);
  return [];
}

function envOfChain(ctx: LintContext, stage: Stage): Set<string> {
  const names = new Set<string>();
  for (const base of ctx.chainOf(stage).slice(1)) {
    for (const i of base.instructions) if (i.kind === 'env') for (const v of i.vars) names.add(v.key);
  }
  return names;
}

export const UndefinedVar = defineRule<{ name: string; suggestion: string | undefined }>({
  id: 'UndefinedVar',
  source: 'buildkit',
  severity: 'warning',
  summary: 'Variables should be defined before their use',
  message: ({ name, suggestion }) =>
    `$${name} is not defined here${suggestion ? ` (did you mean $${suggestion}?)` : ''}`,
  fix: ({ name, suggestion }) =>
    suggestion
      ? `use $${suggestion}`
      : `declare it first (ARG ${name} or ENV ${name}=…), or give a default: \${${name}:-…}`,
  *check(ctx) {
    for (const stage of ctx.stages) {
      const defined = envOfChain(ctx, stage);
      for (const i of stage.instructions) {
        for (const name of expandedWords(i).flatMap(bareVariables)) {
          if (defined.has(name) || BASE_IMAGE_ENV.has(name)) continue;
          yield hit(i.source, { name, suggestion: closest(name, defined) }, `$${name}`);
        }
        for (const name of defines(i)) defined.add(name);
      }
    }
  },
});

export const UndefinedArgInFrom = defineRule<{ name: string }>({
  id: 'UndefinedArgInFrom',
  source: 'buildkit',
  severity: 'warning',
  summary: 'FROM command must use declared ARGs',
  message: ({ name }) => `FROM uses $${name}, which no ARG before the first FROM declares`,
  fix: ({ name }) => `declare it at the top: ARG ${name}=<default>`,
  *check(ctx) {
    const global = new Set(ctx.graph.args.map((a) => a.name));
    for (const stage of ctx.stages) {
      const words = [
        ...(stage.base.kind === 'image' ? [stage.base.ref] : []),
        ...(stage.platform ? [stage.platform] : []),
      ];
      for (const name of words.flatMap(bareVariables)) {
        if (!global.has(name) && !AUTOMATIC_PLATFORM_ARGS.has(name))
          yield hit(stage.source, { name }, `$${name}`);
      }
    }
  },
});

export const StageNameCasing = defineRule<{ name: string }>({
  id: 'StageNameCasing',
  source: 'buildkit',
  severity: 'warning',
  summary: 'Stage names should be lowercase',
  message: ({ name }) => `stage name "${name}" should be lowercase`,
  fix: ({ name }) => `name it ${name.toLowerCase()}`,
  *check(ctx) {
    if (ctx.dockerfile) {
      for (const { at, args } of fromNodes(ctx)) {
        const name = args.length === 3 ? (args[2] as string) : undefined;
        if (name !== undefined && name !== name.toLowerCase()) yield hit(at, { name }, name);
      }
      return;
    }
    for (const stage of ctx.stages) {
      if (stage.name !== stage.name.toLowerCase()) yield hit(stage.source, { name: stage.name });
    }
  },
});

export const FromAsCasing = defineRule<{ from: string; as: string }>({
  id: 'FromAsCasing',
  source: 'buildkit',
  severity: 'warning',
  summary: "The 'as' keyword should match the case of the 'from' keyword",
  message: ({ from, as }) => `'${as}' and '${from}' keywords' casing do not match`,
  fix: ({ from, as }) =>
    `write ${from} … ${from === from.toUpperCase() ? as.toUpperCase() : as.toLowerCase()} …`,
  *check(ctx) {
    for (const { node, at, args } of fromNodes(ctx)) {
      const as = args[1];
      if (args.length !== 3 || as === undefined) continue;
      const from = node.value;
      const upper = from === from.toUpperCase();
      const lower = from === from.toLowerCase();
      if ((upper && as !== as.toUpperCase()) || (lower && as !== as.toLowerCase())) {
        yield hit(at, { from, as }, as);
      }
    }
  },
});

export const JSONArgsRecommended = defineRule<{ keyword: string }>({
  id: 'JSONArgsRecommended',
  source: 'buildkit',
  severity: 'warning',
  summary:
    'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
  message: ({ keyword }) =>
    `JSON arguments recommended for ${keyword} to prevent unintended behavior related to OS signals`,
  fix: ({ keyword }) => `${keyword} ["program", "arg"] (or set SHELL explicitly if you need a shell)`,
  *check(ctx) {
    for (const { stage, instruction: i, index } of ctx.instructions) {
      if ((i.kind !== 'cmd' && i.kind !== 'entrypoint') || i.command.form !== 'shell') continue;
      const shellSet =
        stage.instructions.slice(0, index).some((s) => s.kind === 'shell') ||
        ctx
          .chainOf(stage)
          .slice(1)
          .some((s) => s.instructions.some((x) => x.kind === 'shell'));
      if (!shellSet) yield hit(i.source, { keyword: i.kind.toUpperCase() });
    }
  },
});

export const WorkdirRelativePath = defineRule<{ path: string }>({
  id: 'WorkdirRelativePath',
  source: 'buildkit',
  severity: 'warning',
  summary: 'Relative workdir without an absolute workdir declared within the build',
  message: ({ path }) =>
    `relative WORKDIR ${path} with no absolute WORKDIR before it: it depends on the base image's`,
  fix: ({ path }) => `WORKDIR /${path.replace(/^\.\//, '')}`,
  *check(ctx) {
    for (const stage of ctx.stages) {
      let absolute = ctx
        .chainOf(stage)
        .slice(1)
        .some((s) => s.instructions.some((i) => i.kind === 'workdir'));
      for (const i of stage.instructions) {
        if (i.kind !== 'workdir') continue;
        const relative = !i.path.startsWith('/') && !i.path.startsWith('$');
        if (relative && !absolute) yield hit(i.source, { path: i.path }, i.path);
        absolute = true;
      }
    }
  },
});

export const DuplicateStageName = defineRule<{ name: string }>({
  id: 'DuplicateStageName',
  source: 'buildkit',
  severity: 'error',
  summary: 'Stage names should be unique',
  message: ({ name }) => `duplicate stage name "${name}": a later stage cannot refer to both`,
  fix: ({ name }) => `rename one of the "${name}" stages`,
  *check(ctx) {
    const seen = new Set<string>();
    for (const { at, args } of fromNodes(ctx)) {
      const name = args.length === 3 ? (args[2] as string).toLowerCase() : undefined;
      if (name === undefined) continue;
      if (seen.has(name)) yield hit(at, { name }, args[2]);
      seen.add(name);
    }
  },
});

const SINGLE = new Set<Instruction['kind']>(['cmd', 'entrypoint', 'healthcheck']);

export const MultipleInstructionsDisallowed = defineRule<{ keyword: string }>({
  id: 'MultipleInstructionsDisallowed',
  source: 'buildkit',
  severity: 'warning',
  summary: 'Multiple instructions of the same type should not be used in the same stage',
  message: ({ keyword }) => `a later ${keyword} in this stage replaces this one`,
  fix: ({ keyword }) => `keep only the last ${keyword}`,
  *check(ctx) {
    for (const stage of ctx.stages) {
      for (const [index, i] of stage.instructions.entries()) {
        if (
          SINGLE.has(i.kind) &&
          stage.instructions.slice(index + 1).some((later) => later.kind === i.kind)
        ) {
          yield hit(i.source, { keyword: i.kind.toUpperCase() });
        }
      }
    }
  },
});

export const LegacyKeyValueFormat = defineRule<{ keyword: string; key: string }>({
  id: 'LegacyKeyValueFormat',
  source: 'buildkit',
  severity: 'warning',
  summary: 'Legacy key/value format with whitespace separator should not be used',
  message: ({ keyword, key }) =>
    `"${keyword} ${key} value" is the legacy format: write ${keyword} ${key}=value`,
  fix: ({ keyword, key }) => `${keyword} ${key}=<value>`,
  *check(ctx) {
    const df = ctx.dockerfile;
    if (!df) return;
    const nodes = df.ast.children.flatMap((n) =>
      n.value.toLowerCase() === 'onbuild' ? (n.next?.children ?? []) : [n],
    );
    for (const node of nodes) {
      const keyword = node.value.toUpperCase();
      if (keyword !== 'ENV' && keyword !== 'LABEL') continue;
      const rest = node.original.replace(/^\s*(onbuild\s+)?\S+\s+/i, '');
      const key = /^\S+/.exec(rest)?.[0] ?? '';
      if (key !== '' && !key.includes('=')) yield hit(nodeLocation(df.file, node), { keyword, key }, key);
    }
  },
});

export const buildkitRules = [
  SecretsUsedInArgOrEnv,
  UndefinedVar,
  UndefinedArgInFrom,
  StageNameCasing,
  FromAsCasing,
  JSONArgsRecommended,
  WorkdirRelativePath,
  DuplicateStageName,
  MultipleInstructionsDisallowed,
  LegacyKeyValueFormat,
];
