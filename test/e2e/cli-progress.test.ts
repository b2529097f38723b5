// What `wharf build --progress plain|json` shows of a real multi-stage build: each stage's steps in
// build order (metadata steps finish before a COPY layer is written, and still print after it), live
// RUN output, and JSON events stamped with their time.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDockerfile, type CliResult } from '../helpers/cli.js';
import { noDocker } from '../helpers/env.js';
import { tempDir } from '../helpers/paths.js';

const DOCKERFILE = [
  'FROM busybox AS build',
  'WORKDIR /src',
  'COPY a.txt .',
  'RUN cat a.txt > out.txt',
  'FROM busybox AS api',
  'ENV A=1',
  'WORKDIR /app',
  'USER app',
  'COPY --from=build /src/out.txt /app/out.txt',
  'COPY b.txt .',
  'RUN echo progress-line-$A',
  'LABEL x=y',
  'EXPOSE 8080',
  'CMD ["sh"]',
  '',
].join('\n');

function project(): { dir: string; build: (progress: string) => Promise<CliResult> } {
  const dir = tempDir();
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE);
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  writeFileSync(join(dir, 'b.txt'), 'b\n');
  const build = (progress: string) =>
    buildDockerfile(join(dir, 'Dockerfile'), dir, {
      progress,
      cacheDir: join(dir, 'cache'),
      args: ['-o', `type=oci,dest=${join(dir, 'out')}`],
    });
  return { dir, build };
}

describe.skipIf(noDocker())('build progress', () => {
  it('plain: every stage’s steps in build order, RUN output as it comes', async () => {
    const { build } = project();
    const result = await build('plain');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.split('\n');
    for (const stage of ['build', 'api']) {
      const steps = lines
        // a step's own line (its instruction in capitals), not the RUN output it printed (`[api 6] progress-line-1`)
        .map((l) => new RegExp(`^\\[${stage} (\\d+)\\] [A-Z]+ `).exec(l)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number);
      const count = stage === 'build' ? 3 : 9;
      expect(steps, result.stderr).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    }
    const output = lines.findIndex((l) => /progress-line-1$/.test(l));
    const run = lines.findIndex((l) => l.startsWith('[api 6] RUN'));
    expect(output).toBeGreaterThan(-1);
    expect(output).toBeLessThan(run); // printed live, before the step's line
    expect(lines[output]).toBe('[api 6] progress-line-1'); // log events carry their step
    expect(lines.find((l) => l.startsWith('[api 5] COPY b.txt .'))).toMatch(/ \d+(\.\d)? kB$/);
  });

  it('json: one event per line, each with an ISO time, in the order they happened', async () => {
    const { build } = project();
    const result = await build('json');
    expect(result.code, result.stderr).toBe(0);
    const events = result.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { time: string; type: string; dest?: string });
    expect(events.length).toBeGreaterThan(20);
    const times = events.map((e) => Date.parse(e.time));
    for (const e of events) expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(events.at(-1)).toMatchObject({ type: 'output-written', dest: expect.stringMatching(/out$/) });
  });
});
