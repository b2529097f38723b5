import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readOciArchive } from './archive/oci-archive.js';
import { build } from './build.js';
import { stage } from './dsl/stage.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-build-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('builds a stage value, writes the output, and reports digest, size and step timings', async () => {
  writeFileSync(join(dir, 'hello.txt'), 'hi\n');
  const app = stage('app').from('scratch').copy('hello.txt', '/hello.txt').cmd(['/hello']);
  const dest = join(dir, 'out.tar');
  const options = {
    contextDir: dir,
    cacheDir: join(dir, 'cache'),
    output: { type: 'oci-archive', dest, names: [] },
  } as const;
  const first = await build(app, options);
  expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(first.size).toBeGreaterThan(0);
  expect(first.steps.map((s) => [s.text, s.cached])).toEqual([
    ['COPY hello.txt /hello.txt', false],
    ['CMD ["/hello"]', false],
  ]);
  expect(await (await readOciArchive(dest)).digest()).toBe(first.digest);
  const second = await build(app, options);
  expect(second.steps[0]?.cached).toBe(true);
});

it('refuses a misspelt option, naming the closest ones and listing the valid ones (it was silently ignored)', async () => {
  const app = stage('app').from('scratch').cmd(['/hello']);
  const misspelt = { contextDir: dir, cachedir: join(dir, 'cache'), outputs: 'type=oci' };
  await expect(build(app, misspelt as never)).rejects.toThrow(
    expect.objectContaining({
      code: 'BUILD_UNKNOWN_OPTION',
      message: 'build(): unknown options "cachedir", "outputs"',
      hint: expect.stringMatching(
        /^did you mean "cacheDir", "output"\? the options are contextDir, output, tags, .*cacheDir, .*onEvent$/,
      ),
    }),
  );
});
