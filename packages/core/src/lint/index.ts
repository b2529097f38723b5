/**
 * `lint`: best-practice findings over the build graph, so a build.ts and a Dockerfile get the same
 * checks, each finding located in the file the user wrote. Rules are data (rules/*.ts); this file runs
 * them, applies configuration and inline ignores, and sharpens columns from the source text.
 *
 * @example
 * lintDockerfile('FROM node\nRUN npm install express\n', { file: 'Dockerfile' })
 * // [{ rule: 'DL3006', severity: 'warning', file: 'Dockerfile', line: 1, column: 6, message: 'FROM node has no tag…' }, …]
 */

import { lowerDockerfile } from '../dockerfile/lower/index.js';
import { type ParseResult, parseDockerfile } from '../dockerfile/parse/index.js';
import { type SourceLocation, WharfError } from '../errors.js';
import type { BuildGraph } from '../ir/types.js';
import { ruleSeverities } from './config.js';
import { type DockerfileSource, lintContext } from './context.js';
import { ignoreIndex } from './ignore.js';
import { buildkitRules } from './rules/buildkit.js';
import { hadolintRules } from './rules/hadolint.js';
import { wharfRules } from './rules/wharf.js';
import type { Finding, LintConfig, Rule } from './types.js';

export { LINT_CONFIG_FILE, parseLintConfig, reaches } from './config.js';
export { formatFindings, LINT_FORMATS, type LintFormat } from './format.js';
export type { Finding, LintConfig, Rule, RuleSetting, Severity } from './types.js';
export { SEVERITIES } from './types.js';

/** Every rule, hadolint's ids first, then BuildKit's checks, then wharf's own. */
export const lintRules: readonly Rule[] = [...hadolintRules, ...buildkitRules, ...wharfRules];

/** Rules that read only the Dockerfile's syntax: they still run when the Dockerfile does not lower. */
const SYNTAX_RULES = new Set(['DuplicateStageName', 'FromAsCasing', 'LegacyKeyValueFormat']);

/** The rule's documentation page. */
export function ruleDocsUrl(rule: Pick<Rule, 'id' | 'source'>): string {
  switch (rule.source) {
    case 'hadolint':
      return `https://github.com/hadolint/hadolint/wiki/${rule.id}`;
    case 'buildkit':
      return `https://docs.docker.com/reference/build-checks/${rule.id.replace(/(?<!^)([A-Z])(?=[a-z])/g, '-$1').toLowerCase()}/`;
    case 'wharf':
      return `docs/lint.md#${rule.id.toLowerCase()}`;
  }
}

export interface LintOptions {
  /** Configurations in order, later ones winning (`define({ lint })`, then `.wharf-lint.json`). */
  readonly configs?: readonly { readonly config: LintConfig; readonly where: string }[];
  /** The Dockerfile the graph was lowered from: syntax rules read it, ignores and columns come from it. */
  readonly dockerfile?: DockerfileSource;
  /** Other source texts by file name (a build.ts), for inline ignores and exact columns. */
  readonly sources?: Readonly<Record<string, string>>;
  /** Base references pinned outside the definition (in wharf.lock): BaseNotPinnedByDigest accepts them. */
  readonly pinned?: (ref: string) => boolean;
}

/**
 * Best-practice findings for a graph (a build.ts's `toGraph()`), each located at the call site that made it.
 * @example lintGraph(toGraph(stage('app').from('node:latest').cmd(['node', 'server.js']))) // [{ rule: 'DL3007', … }, …]
 */
export function lintGraph(graph: BuildGraph, options: LintOptions = {}): Finding[] {
  return run(graph, options, lintRules);
}

export interface LintDockerfileOptions extends Omit<LintOptions, 'dockerfile'> {
  /** File name for locations. Default `Dockerfile`. */
  readonly file?: string;
  /**
   * The stage that is built (`--target`): rules about the final image look at it, not at the last stage,
   * as BuildKit's `--check --target` does. Unknown names throw IR_UNKNOWN_TARGET.
   */
  readonly target?: string | undefined;
  /**
   * `text` already parsed (`wharf build -f` lints the parse it lowered, rather than parsing twice). Only
   * its syntax tree is read: the file names in its warnings may differ from `file`.
   */
  readonly parsed?: ParseResult | undefined;
}

/**
 * Parses, lowers and lints a Dockerfile. Parse errors throw. When lowering fails on something a syntax
 * rule reports as an error (a duplicate stage name), those findings are returned instead of the error.
 * @example lintDockerfile('FROM node\nRUN npm install express\n', { file: 'Dockerfile' }) // [{ rule: 'DL3006', line: 1, … }, …]
 */
export function lintDockerfile(text: string, options: LintDockerfileOptions = {}): Finding[] {
  const file = options.file ?? 'Dockerfile';
  const parsed = options.parsed ?? parseDockerfile(text, { file });
  const dockerfile: DockerfileSource = { file, text, ast: parsed.ast };
  let graph: BuildGraph;
  try {
    graph = lowerDockerfile(parsed, { file });
  } catch (error) {
    const empty: BuildGraph = { version: 1, args: [], stages: [], context: { dir: '.' }, namedContexts: {} };
    const syntax = run(
      empty,
      { ...options, dockerfile },
      lintRules.filter((r) => SYNTAX_RULES.has(r.id)),
    );
    if (syntax.some((f) => f.severity === 'error')) return syntax;
    throw error;
  }
  return run(withTarget(graph, options.target), { ...options, dockerfile }, lintRules);
}

/** The graph with `target` as the image it builds (Dockerfile stage names are case-insensitive). */
function withTarget(graph: BuildGraph, target: string | undefined): BuildGraph {
  if (target === undefined) return graph;
  const stage = graph.stages.find((s) => s.name === target.toLowerCase());
  if (!stage) {
    throw new WharfError('IR_UNKNOWN_TARGET', `no stage named "${target}"`, {
      hint: `stages: ${graph.stages.map((s) => s.name).join(', ')}`,
    });
  }
  return { ...graph, target: stage.name };
}

function run(graph: BuildGraph, options: LintOptions, rules: readonly Rule[]): Finding[] {
  const severities = ruleSeverities(lintRules, options.configs ?? []);
  const ctx = lintContext(graph, options.dockerfile, options.pinned);
  const texts = new Map(Object.entries(options.sources ?? {}));
  if (options.dockerfile) texts.set(options.dockerfile.file, options.dockerfile.text);
  const ignores = new Map([...texts].map(([file, text]) => [file, ignoreIndex(text)]));
  const lines = new Map([...texts].map(([file, text]) => [file, text.split(/\r?\n/)]));
  const findings: Finding[] = [];
  for (const rule of rules) {
    const severity = severities.get(rule.id);
    if (severity === undefined) continue;
    for (const hit of rule.check(ctx)) {
      const at = hit.at ?? ctx.finalLocation;
      if (at && ignores.get(at.file)?.ignored(rule.id, at.line)) continue;
      const where = sharpen(at, hit.needle, lines);
      const fix = rule.fix?.(hit.detail);
      findings.push({
        rule: rule.id,
        severity,
        file: where.file,
        line: where.line,
        column: where.column ?? 1,
        message: rule.message(hit.detail),
        ...(fix === undefined ? {} : { fix }),
      });
    }
  }
  // Code-unit order, not localeCompare: its first call loads ICU's collation data, 50–120 ms of every
  // `wharf build` (lint runs before each one).
  const byText = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return findings.sort(
    (a, b) => byText(a.file, b.file) || a.line - b.line || a.column - b.column || byText(a.rule, b.rule),
  );
}

/** The needle's first occurrence (as a whole word) within the instruction's lines, else `at` itself. */
function sharpen(
  at: SourceLocation | undefined,
  needle: string | undefined,
  sources: ReadonlyMap<string, readonly string[]>,
): SourceLocation {
  if (!at) return { file: 'build', line: 1, column: 1 };
  const lines = sources.get(at.file);
  if (needle === undefined || lines === undefined) return at;
  const word = new RegExp(`(?<![\\w.-])${needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`);
  for (let line = at.line; line <= (at.endLine ?? at.line); line++) {
    const content = lines[line - 1] ?? '';
    const from = line === at.line ? Math.max(0, (at.column ?? 1) - 1) : 0;
    const found = word.exec(content.slice(from));
    if (found) return { file: at.file, line, column: from + found.index + 1 };
  }
  return at;
}
