import { describe, expect, it } from 'vitest';
import { explainDifference } from './miss-explanation.js';
import type { StepInputs } from './step-cache.js';

const config = (c: Record<string, unknown>) => JSON.stringify({ User: '', Env: ['PATH=/bin'], ...c });
const base: StepInputs = {
  parent: 'p',
  parentIsBase: false,
  config: config({}),
  args: [],
  instruction: 'RUN make',
  files: {},
  epoch: 0,
};
const copied = (dest: string, digest: string, mode = '644') => `file:${mode}:0:0:${dest}:${digest}`;

describe('explainDifference', () => {
  it('names the ENV variable, USER, WORKDIR and SHELL that changed, with old and new values', () => {
    const before = { ...base, config: config({ Env: ['PATH=/bin', 'NODE_ENV=development'], User: 'root' }) };
    const after = {
      ...base,
      config: config({
        Env: ['PATH=/bin', 'NODE_ENV=production', 'PORT=3000'],
        User: 'app',
        WorkingDir: '/app',
        Shell: ['/bin/bash', '-c'],
      }),
    };
    expect(explainDifference(before, after)).toBe(
      [
        'ENV NODE_ENV "development" → "production"',
        'ENV PORT set to "3000"',
        'USER "root" → "app"',
        'WORKDIR (unset) → "/app"',
        'SHELL (unset) → ["/bin/bash","-c"]',
      ].join('; '),
    );
  });

  it('never prints the value of an ARG or ENV whose name looks secret', () => {
    const before = {
      ...base,
      args: ['NPM_TOKEN=old-s3cret', 'VERSION=1'],
      config: config({ Env: ['DB_PASSWORD=hunter2'] }),
    };
    const after = {
      ...base,
      args: ['NPM_TOKEN=new-s3cret', 'VERSION=2'],
      config: config({ Env: ['DB_PASSWORD=hunter3'] }),
    };
    const line = explainDifference(before, after);
    expect(line).toBe(
      [
        'ENV DB_PASSWORD changed (the value is not shown: the name looks secret)',
        'build arg NPM_TOKEN changed (the value is not shown: the name looks secret)',
        'build arg VERSION "1" → "2"',
      ].join('; '),
    );
    expect(line).not.toMatch(/s3cret|hunter/);
  });

  it('names context files apart from image paths, the edited file first, and never hides one name', () => {
    const files = (n: number, edited: string) =>
      Object.fromEntries([
        ['/app', 'dir:755:0:0'],
        ...Array.from({ length: n }, (_, i) => [`src/f${i}.ts`, copied(`/app/src/f${i}.ts`, `d${i}`)]),
        ['src/z-edited.ts', copied('/app/src/z-edited.ts', edited)],
      ]);
    // one edited file among many: it is named, nothing else
    expect(explainDifference({ ...base, files: files(40, 'aa') }, { ...base, files: files(40, 'bb') })).toBe(
      'context file src/z-edited.ts changed (copied to /app/src/z-edited.ts)',
    );
    // edited first, then added, removed and image paths; six changes are all named
    const before = { ...base, files: { ...files(2, 'aa'), 'gone.txt': copied('/app/gone.txt', 'cc') } };
    const after = {
      ...base,
      files: {
        ...files(2, 'bb'),
        'new.txt': copied('/app/new.txt', 'dd'),
        '/app': 'dir:700:0:0',
        '/app/x': 'dir:755:0:0',
      },
    };
    expect(explainDifference(before, after)).toBe(
      [
        'context file src/z-edited.ts changed (copied to /app/src/z-edited.ts)',
        'image path /app mode or owner changed',
        'context file new.txt added (copied to /app/new.txt)',
        'image path /app/x added',
        'context file gone.txt removed',
      ].join(', '),
    );
  });

  it('says "and K more" only for two or more', () => {
    const many = (n: number, digest: string) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, copied(`/f${i}`, digest)]));
    const six = explainDifference({ ...base, files: many(6, 'aa') }, { ...base, files: many(6, 'bb') });
    expect(six).not.toMatch(/more/);
    expect(six.split(', ')).toHaveLength(6);
    const seven = explainDifference({ ...base, files: many(7, 'aa') }, { ...base, files: many(7, 'bb') });
    expect(seven).toMatch(/, context file f4 changed \(copied to \/f4\) and 2 more files$/);
  });

  it('says when a file only moved in the image, and names bind mounts and --from sources', () => {
    const before = {
      ...base,
      files: { 'a.txt': copied('/old/a.txt', 'aa'), 'bind /src': 'ctx:1', '--from=stage build': 'sha256:1' },
    };
    const after = {
      ...base,
      files: { 'a.txt': copied('/new/a.txt', 'aa'), 'bind /src': 'ctx:2', '--from=stage build': 'sha256:2' },
    };
    expect(explainDifference(before, after)).toBe(
      'stage build changed, the source of the bind mount at /src changed, context file a.txt now copied to /new/a.txt (was /old/a.txt)',
    );
  });

  it('names the base image, the instruction, secrets and SOURCE_DATE_EPOCH', () => {
    expect(
      explainDifference(base, {
        ...base,
        parent: 'q',
        parentIsBase: true,
        instruction: 'RUN make all',
        secrets: ['npm'],
        epoch: 1,
      }),
    ).toBe('the instruction changed; the base image changed; the secrets it mounts; SOURCE_DATE_EPOCH');
    expect(explainDifference(base, base)).toMatch(/^no record of an identical step/);
  });
});
