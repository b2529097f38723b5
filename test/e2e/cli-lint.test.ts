// `wharf lint` and the lint step of `wharf build`, through the CLI: output formats, exit codes,
// configuration (define({ lint }), .wharf-lint.json, inline ignores) and one clear line for bad input.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wharfAsync } from '../helpers/cli.js';
import { repoRoot, tempDir } from '../helpers/paths.js';

const DOCKERFILE = `FROM node:latest
ENV API_TOKEN=x
# wharf-lint ignore=DL3015
RUN apt-get update && apt-get install -y curl
CMD node server.js
`;

const BUILD_TS = `import { define, stage } from '@wharf/core';

const app = stage('app')
  .from('node:20-alpine')
  // hadolint ignore=DL3018
  .run('apk add curl')
  .run('apk add --no-cache git')
  .cmd(['node', 'server.js']);

export default define({ target: app, lint: { rules: { DL3059: 'warning', RunsAsRoot: 'off' } } });
`;

interface JsonFinding {
  rule: string;
  severity: string;
  file: string;
  line: number;
  column: number;
  message: string;
  fix?: string;
}

async function project(files: Record<string, string>): Promise<string> {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('wharf lint', () => {
  it('lints a Dockerfile: JSON findings with exact places, exit 1 at --fail-on warning, 0 at error', async () => {
    const dir = await project({ Dockerfile: DOCKERFILE });
    const result = await wharfAsync(['lint', '-f', 'Dockerfile', '--format', 'json'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^wharf: \d+ findings at warning or above\n {2}hint: /);
    const findings = JSON.parse(result.stdout) as JsonFinding[];
    const dl3008 = findings.find((f) => f.rule === 'DL3008');
    expect(dl3008).toMatchObject({ severity: 'warning', file: 'Dockerfile', line: 4, column: 42 });
    expect(findings.map((f) => f.rule)).toEqual(
      expect.arrayContaining(['DL3007', 'SecretsUsedInArgOrEnv', 'DL3009', 'DL3025', 'JSONArgsRecommended']),
    );
    expect(findings.some((f) => f.rule === 'DL3015')).toBe(false); // ignored inline

    const lenient = await wharfAsync(['lint', '-f', 'Dockerfile', '--fail-on', 'error'], { cwd: dir });
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/^Dockerfile:1:11: warning DL3007: /m);
  });

  it('lints a build.ts with define({ lint }), .wharf-lint.json (which wins) and // comments', async () => {
    const dir = await project({
      'build.ts': BUILD_TS,
      '.wharf-lint.json': '{ "rules": { "BaseNotPinnedByDigest": "off" } }',
    });
    const result = await wharfAsync(['lint', '--format', 'json', '--fail-on', 'error'], { cwd: dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const findings = JSON.parse(result.stdout) as JsonFinding[];
    const rules = findings.map((f) => f.rule);
    expect(rules).not.toContain('RunsAsRoot'); // off in define({ lint })
    expect(rules).not.toContain('BaseNotPinnedByDigest'); // off in .wharf-lint.json
    // DL3018 is ignored for the first .run (the comment above it), not for the second.
    expect(findings.filter((f) => f.rule === 'DL3018').map((f) => f.line)).toEqual([7]);
    expect(findings.find((f) => f.rule === 'DL3059')).toMatchObject({
      severity: 'warning',
      file: 'build.ts',
      line: 7,
    });
    expect(findings.find((f) => f.rule === 'DL3019')).toMatchObject({
      file: 'build.ts',
      line: 6,
      column: 13,
    });
  });

  it('writes SARIF 2.1.0', async () => {
    const dir = await project({ Dockerfile: DOCKERFILE });
    const result = await wharfAsync(['lint', '-f', 'Dockerfile', '--format', 'sarif'], { cwd: dir });
    expect(result.code).toBe(1);
    const log = JSON.parse(result.stdout);
    expect(log.version).toBe('2.1.0');
    expect(log.runs[0].tool.driver.name).toBe('wharf');
    expect(log.runs[0].results.length).toBeGreaterThan(3);
  });

  it('bad input and bad flags: one clear line, exit 1 for input and 2 for usage', async () => {
    const dir = await project({
      Dockerfile: DOCKERFILE,
      '.wharf-lint.json': '{ "rules": { "DL3088": "off" } }',
    });
    const badConfig = await wharfAsync(['lint', '-f', 'Dockerfile'], { cwd: dir });
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(
      /^wharf: \.wharf-lint\.json: unknown lint rule "DL3088"\n {2}hint: rules with a similar id: DL3000/,
    );
    expect(badConfig.stdout).toBe('');
    const missing = await wharfAsync(['lint', '-f', 'nope/Dockerfile'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^wharf: cannot read nope\/Dockerfile: /);
    expect((await wharfAsync(['lint', '-f', 'Dockerfile', '--fail-on', 'never'], { cwd: dir })).code).toBe(2);
  });

  it('--target: the final-image rules look at the stage built, not the last one', async () => {
    const dir = await project({
      Dockerfile:
        'FROM busybox:1.36 AS app\nRUN echo app\nFROM busybox:1.36 AS test\nUSER 1000\nRUN echo test\n',
    });
    const lint = (...args: string[]) =>
      wharfAsync(['lint', '-f', 'Dockerfile', '--format', 'json', ...args], { cwd: dir });
    const rules = (stdout: string) => (JSON.parse(stdout) as JsonFinding[]).map((f) => f.rule);
    expect(rules((await lint()).stdout)).not.toContain('RunsAsRoot');
    const app = await lint('--target', 'app');
    expect(rules(app.stdout)).toContain('RunsAsRoot');
    expect(app.stdout).toMatch(/stage \\"app\\"/);
    const unknown = await lint('--target', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('wharf: no stage named "nope"\n  hint: stages: app, test\n');
  });
});

describe('wharf build lints first', () => {
  const hello = join(repoRoot, 'examples/hello/build.ts');

  it('prints warning-level findings once and builds; --lint=error fails before building', async () => {
    const cacheDir = tempDir();
    const out = join(tempDir(), 'hello.tar');
    const built = await wharfAsync([
      'build',
      '--progress',
      'plain',
      '--cache-dir',
      cacheDir,
      hello,
      '-o',
      `type=oci-archive,dest=${out}`,
    ]);
    expect(built.code).toBe(0);
    const lintLines = built.stderr.split('\n').filter((l) => / ServiceWithoutHealthcheck: /.test(l));
    expect(lintLines).toEqual([
      expect.stringMatching(
        /^wharf: warning: examples\/hello\/build\.ts:16:\d+: ServiceWithoutHealthcheck: the final image exposes 8080/,
      ),
    ]);
    expect(built.stderr).not.toMatch(/MissingOciLabels/); // info level: not printed during builds

    const strictOut = join(tempDir(), 'strict.tar');
    const strict = await wharfAsync([
      'build',
      '--progress',
      'quiet',
      '--lint=error',
      '--cache-dir',
      cacheDir,
      hello,
      '-o',
      `type=oci-archive,dest=${strictOut}`,
    ]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/^wharf: lint: 1 finding at warning or above\n {2}hint: /);
    expect(existsSync(strictOut)).toBe(false);
  });
});
