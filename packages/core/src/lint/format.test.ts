/**
 * Output formats: SARIF validated against the SARIF 2.1.0 JSON schema (as shipped in the
 * @microsoft/jest-sarif npm package), JSON as the documented array of findings, text one line each.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import AjvDraft04 from 'ajv-draft-04';
import { describe, expect, test } from 'vitest';
import { formatFindings, lintDockerfile, lintRules, ruleDocsUrl } from './index.js';

const require = createRequire(import.meta.url);
const schema = JSON.parse(
  readFileSync(require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'), 'utf8'),
) as object;

const dockerfile = `FROM node:latest
RUN apt-get update && apt-get install -y curl | tee log
ENV API_TOKEN=x
ADD src /src
EXPOSE 80
CMD node /src/index.js
`;
const findings = lintDockerfile(dockerfile, { file: 'app dir/Dockerfile' });
const options = { rules: lintRules, docsUrl: ruleDocsUrl, version: '1.2.3' };

describe('lint output formats', () => {
  test('SARIF 2.1.0 validates against the schema, one result per finding', () => {
    // The schema's language-tag pattern is not valid with the u flag (a stray `]`).
    const ajv = new AjvDraft04.default({ strict: false, allErrors: true, unicodeRegExp: false });
    ajv.addFormat('uri', (s: string) => /^[A-Za-z][A-Za-z0-9+.-]*:\S*$/.test(s) && URL.canParse(s));
    ajv.addFormat('uri-reference', (s: string) => !/\s/.test(s));
    ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
    const validate = ajv.compile(schema);
    const log = JSON.parse(formatFindings(findings, 'sarif', options));
    expect(validate(log), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(log.version).toBe('2.1.0');
    const [run] = log.runs;
    expect(run.results).toHaveLength(findings.length);
    expect(run.results[0].locations[0].physicalLocation.artifactLocation.uri).toBe('app%20dir/Dockerfile');
    const dl3008 = run.results.find((r: { ruleId: string }) => r.ruleId === 'DL3008');
    expect(run.tool.driver.rules[dl3008.ruleIndex].helpUri).toBe(
      'https://github.com/hadolint/hadolint/wiki/DL3008',
    );
    // A schema-invalid log is caught (the test can fail).
    expect(validate({ ...log, version: '2.0.0' })).toBe(false);
  });

  test('JSON is the array of { rule, severity, file, line, column, message, fix? }', () => {
    const parsed = JSON.parse(formatFindings(findings, 'json', options)) as Record<string, unknown>[];
    expect(parsed.length).toBeGreaterThan(5);
    for (const f of parsed) {
      expect(Object.keys(f).filter((k) => k !== 'fix')).toEqual([
        'rule',
        'severity',
        'file',
        'line',
        'column',
        'message',
      ]);
    }
    expect(parsed.find((f) => f.rule === 'DL3007')).toEqual({
      rule: 'DL3007',
      severity: 'warning',
      file: 'app dir/Dockerfile',
      line: 1,
      column: 11,
      message: 'FROM node:latest: "latest" changes under you',
      fix: 'name a version instead of latest, or pin it: node:<version>@sha256:…',
    });
  });

  test('text: file:line:col: severity RULE: message, with the fix below', () => {
    const text = formatFindings(findings, 'text', options);
    expect(text).toContain(
      'app dir/Dockerfile:1:11: warning DL3007: FROM node:latest: "latest" changes under you\n  fix: ',
    );
    expect(formatFindings([], 'text', options)).toBe('');
  });

  test('BuildKit rules link to their build-check page', () => {
    const rule = lintRules.find((r) => r.id === 'SecretsUsedInArgOrEnv');
    expect(rule && ruleDocsUrl(rule)).toBe(
      'https://docs.docker.com/reference/build-checks/secrets-used-in-arg-or-env/',
    );
    const json = lintRules.find((r) => r.id === 'JSONArgsRecommended');
    expect(json && ruleDocsUrl(json)).toBe(
      'https://docs.docker.com/reference/build-checks/json-args-recommended/',
    );
  });
});
