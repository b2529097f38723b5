/**
 * Lint configuration: `define({ lint })` in build.ts and `.wharf-lint.json` beside the definition, both
 * `{ "rules": { "<id>": "off" | "on" | "error" | "warning" | "info" | "style" | true | false } }`.
 * Later configurations win, rule by rule. A misspelled rule id or setting is an error, not a silent no-op.
 */
import { WharfError } from '../errors.js';
import { type LintConfig, type Rule, type RuleSetting, SEVERITIES, type Severity } from './types.js';

export const LINT_CONFIG_FILE = '.wharf-lint.json';

const SETTINGS: readonly RuleSetting[] = ['off', 'on', ...SEVERITIES, true, false];

/** Parses a `.wharf-lint.json` file's text (`file` names it in errors). */
export function parseLintConfig(text: string, file: string): LintConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new WharfError('LINT_CONFIG', `${file} is not valid JSON: ${(error as Error).message}`, {
      hint: 'write it as { "rules": { "DL3008": "off" } }',
      cause: error,
    });
  }
  const rules = (value as { rules?: unknown } | null)?.rules;
  const wellFormed =
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).every((k) => k === 'rules') &&
    (rules === undefined || (typeof rules === 'object' && rules !== null && !Array.isArray(rules)));
  if (!wellFormed) {
    throw new WharfError('LINT_CONFIG', `${file} must be an object with one key, "rules"`, {
      hint: 'write it as { "rules": { "DL3008": "off", "DL3059": "warning" } }',
    });
  }
  return value as LintConfig;
}

/**
 * The severity of each rule after the configurations (`off` rules are absent). Throws `LINT_CONFIG` for
 * an unknown rule id or setting, naming `where` the configuration came from.
 */
export function ruleSeverities(
  rules: readonly Rule[],
  configs: readonly { readonly config: LintConfig; readonly where: string }[],
): Map<string, Severity> {
  const byId = new Map(rules.map((r) => [r.id, r]));
  const out = new Map(rules.map((r) => [r.id, r.severity]));
  for (const { config, where } of configs) {
    for (const [id, setting] of Object.entries(config.rules ?? {})) {
      const rule = byId.get(id) ?? byId.get(id.toUpperCase());
      if (!rule) {
        const near = [...byId.keys()].filter((k) => k.toLowerCase().startsWith(id.slice(0, 3).toLowerCase()));
        throw new WharfError('LINT_CONFIG', `${where}: unknown lint rule "${id}"`, {
          hint: near.length
            ? `rules with a similar id: ${near.slice(0, 6).join(', ')}`
            : 'see docs/lint.md for the rules',
        });
      }
      if (!SETTINGS.includes(setting)) {
        throw new WharfError('LINT_CONFIG', `${where}: rule ${id} has setting ${JSON.stringify(setting)}`, {
          hint: `use one of: ${SETTINGS.map((s) => JSON.stringify(s)).join(', ')}`,
        });
      }
      if (setting === 'off' || setting === false) out.delete(rule.id);
      else out.set(rule.id, setting === 'on' || setting === true ? rule.severity : setting);
    }
  }
  return out;
}

/** True when `severity` is at least as severe as `threshold`. */
export function reaches(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) <= SEVERITIES.indexOf(threshold);
}
