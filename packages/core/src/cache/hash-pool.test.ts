import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hashFiles, runningHashWorkers } from './hash-pool.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-hash-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('hashFiles', () => {
  it('hashes many files of all sizes on worker threads, in the order given', async () => {
    const files: { path: string; size: number; data: Buffer }[] = [];
    for (let i = 0; i < 600; i++) {
      // empty, small, and a few bigger than the workers' 1 MiB buffer
      const data = randomBytes(i % 100 === 7 ? 3 * 1024 * 1024 + i : (i * 37) % 5000);
      const path = join(dir, `f${i}`);
      writeFileSync(path, data);
      files.push({ path, size: data.length, data });
    }
    const digests = await hashFiles(files);
    expect(digests).toEqual(files.map((f) => sha(f.data)));
  });

  it('stops idle workers, and starts new ones for the next files', async () => {
    const files = Array.from({ length: 300 }, (_, i) => {
      const path = join(dir, `idle${i}`);
      writeFileSync(path, `file ${i}`);
      return { path, size: 6 };
    });
    await hashFiles(files);
    expect(runningHashWorkers()).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(runningHashWorkers()).toBe(0);
    expect(await hashFiles(files.slice(0, 2))).toEqual([
      sha(Buffer.from('file 0')),
      sha(Buffer.from('file 1')),
    ]);
  });

  it('rejects with the code and path of a file it cannot read', async () => {
    const good = join(dir, 'good');
    writeFileSync(good, 'x');
    const missing = join(dir, 'missing');
    await expect(
      hashFiles([
        { path: good, size: 1 },
        { path: missing, size: 1 },
      ]),
    ).rejects.toMatchObject({ code: 'ENOENT', path: missing });
  });

  it('does not keep a process alive once its work is done', () => {
    const file = join(dir, 'exit');
    writeFileSync(file, 'bye');
    // A plain Node child has no TypeScript loader: it runs the compiled module (`pnpm build` comes first).
    const dist = fileURLToPath(new URL('../../dist/cache/hash-pool.js', import.meta.url));
    const script = `const { hashFiles } = await import(${JSON.stringify(dist)}); console.log((await hashFiles([{ path: ${JSON.stringify(file)}, size: 3 }]))[0]);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out.trim()).toBe(sha(Buffer.from('bye')));
  });
});
