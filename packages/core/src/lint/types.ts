/**
 * Lint findings and rules as data. A rule is an id, a default severity, a docs page and a `check` that
 * yields hits; the runner applies configuration and inline ignores, and turns hits into findings.
 */
import type { SourceLocation } from '../errors.js';
import type { LintContext } from './context.js';

/** Most to least severe. `--fail-on` picks the least severe level that fails. */
export const SEVERITIES = ['error', 'warning', 'info', 'style'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One problem, located in the file the user wrote (a Dockerfile or a build.ts). */
export interface Finding {
  readonly rule: string;
  readonly severity: Severity;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** How to fix it, when there is one obvious fix. */
  readonly fix?: string;
}

/** Where a rule family's documentation lives. */
export type RuleSource = 'hadolint' | 'buildkit' | 'wharf';

/** A rule hit before configuration: where, and the detail the rule's message is made from. */
export interface Hit<D> {
  /** The instruction (or stage) the finding belongs to; inline ignores are read above its first line. */
  readonly at: SourceLocation | undefined;
  readonly detail: D;
  /**
   * Text the finding is about (`curl`, `latest`, `cd`): in a Dockerfile the finding points at its first
   * occurrence inside the instruction, so the column is exact.
   */
  readonly needle?: string;
}

export interface Rule<D = unknown> {
  readonly id: string;
  readonly source: RuleSource;
  readonly severity: Severity;
  /** One line: what the rule wants. */
  readonly summary: string;
  readonly message: (detail: D) => string;
  readonly fix?: (detail: D) => string | undefined;
  readonly check: (ctx: LintContext) => Iterable<Hit<D>>;
}

/** Per-rule setting: off, on (its default severity), or a severity of its own. */
export type RuleSetting = 'off' | 'on' | Severity | boolean;

/** `define({ lint })` and `.wharf-lint.json`: `{ "rules": { "DL3008": "off", "DL3059": "warning" } }`. */
export interface LintConfig {
  readonly rules?: Readonly<Record<string, RuleSetting>>;
}
