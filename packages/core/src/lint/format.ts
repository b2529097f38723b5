/**
 * Findings as text (one `file:line:col: severity RULE: message` line each, the fix below), JSON (the
 * array of findings) or SARIF 2.1.0 (for code-scanning dashboards).
 */
import type { Finding, Rule, Severity } from './types.js';

export const LINT_FORMATS = ['text', 'json', 'sarif'] as const;
export type LintFormat = (typeof LINT_FORMATS)[number];

export interface FormatOptions {
  /** The rules, for SARIF's rule table (ids, summaries, docs links). */
  readonly rules: readonly Rule[];
  readonly docsUrl: (rule: Rule) => string;
  /** The tool version recorded in SARIF. */
  readonly version?: string;
}

export function formatFindings(
  findings: readonly Finding[],
  format: LintFormat,
  options: FormatOptions,
): string {
  switch (format) {
    case 'text':
      return findings
        .map(
          (f) =>
            `${f.file}:${f.line}:${f.column}: ${f.severity} ${f.rule}: ${f.message}\n${f.fix ? `  fix: ${f.fix}\n` : ''}`,
        )
        .join('');
    case 'json':
      return `${JSON.stringify(findings, null, 2)}\n`;
    case 'sarif':
      return `${JSON.stringify(sarif(findings, options), null, 2)}\n`;
  }
}

const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  error: 'error',
  warning: 'warning',
  info: 'note',
  style: 'note',
};

function sarif(findings: readonly Finding[], options: FormatOptions) {
  const used = options.rules.filter((r) => findings.some((f) => f.rule === r.id));
  const index = new Map(used.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'wharf',
            ...(options.version ? { version: options.version } : {}),
            rules: used.map((r) => {
              const url = options.docsUrl(r);
              return {
                id: r.id,
                shortDescription: { text: r.summary },
                ...(/^https?:/.test(url) ? { helpUri: url } : {}),
                defaultConfiguration: { level: SARIF_LEVEL[r.severity] },
                properties: { source: r.source },
              };
            }),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.rule,
          ...(index.has(f.rule) ? { ruleIndex: index.get(f.rule) } : {}),
          level: SARIF_LEVEL[f.severity],
          message: { text: f.fix ? `${f.message}. Fix: ${f.fix}` : f.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: encodeURI(f.file) },
                region: { startLine: f.line, startColumn: f.column },
              },
            },
          ],
          properties: { severity: f.severity },
        })),
      },
    ],
  };
}
