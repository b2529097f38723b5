// Hostile input to wharf's parsers, through the real CLI (issue 13 items 5, 6 and 10; issue 12 item 7):
// archives given to `inspect`/`push` with lying tar headers, a `.dockerignore` whose pattern makes a
// backtracking matcher explode, Dockerfiles whose ENV/ARG values double. Each ends within 5 s with one
// line of error and exit 1 (or builds, for the pattern), with a peak RSS under 200 MB. Before: a
// negative size looped forever, a PAX size of 4e9 aborted Node (exit 134), 8 GiB gave "internal error",
// the pattern took seconds to minutes, the doublings reached 870 MB or "Invalid string length".
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BLOCK,
  END_OF_ARCHIVE,
  encodeHeader,
  paddingFor,
  type TarHeader,
} from '../../packages/core/src/tar/header.js';
import { wharfAsync } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';

const LIMIT_MS = 5000;
const LIMIT_RSS_MB = 200;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  peakMB: number;
}

/**
 * Runs the CLI with a hook that records its peak RSS (process.resourceUsage().maxRSS) at exit; async, so a
 * slow case fails its own assertions instead of blocking the vitest worker.
 */
async function wharfMeasured(args: readonly string[], cwd?: string): Promise<Outcome> {
  const dir = tempDir('wharf-parsers-');
  const hook = join(dir, 'peak.cjs');
  const peakFile = join(dir, 'peak');
  writeFileSync(
    hook,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(peakFile)}, String(process.resourceUsage().maxRSS)));\n`,
  );
  const started = Date.now();
  const result = await wharfAsync(args, {
    cwd: cwd ?? dir,
    nodeArgs: ['--require', hook],
    timeoutMs: 60_000,
    env: { NO_COLOR: '1' },
  });
  const ms = Date.now() - started;
  let peakMB = Number.NaN;
  try {
    peakMB = Number(readFileSync(peakFile, 'utf8')) / 1024;
  } catch {
    // killed before exit: no number, and the assertions below say why
  }
  return { code: result.code, stdout: result.stdout, stderr: result.stderr, ms, peakMB };
}

/** `wharf build` of a definition (`-f Dockerfile context`, or a build.ts) to an oci-archive at `dest`. */
function buildMeasured(definition: readonly string[], dest: string): Promise<Outcome> {
  const cache = tempDir('wharf-parsers-cache-');
  const output = `type=oci-archive,dest=${dest}`;
  return wharfMeasured(['build', '--progress', 'quiet', '--cache-dir', cache, '-o', output, ...definition]);
}

/** One line of error, exit 1, within the time and memory limits. */
function expectCleanFailure(outcome: Outcome, message: RegExp): void {
  const lines = outcome.stderr.trim().split('\n');
  expect({ code: outcome.code, stderr: outcome.stderr }).toMatchObject({ code: 1 });
  expect(lines[0]).toMatch(message);
  expect(outcome.stderr).not.toMatch(/internal error| {4}at /);
  expect(outcome.ms).toBeLessThan(LIMIT_MS);
  expect(outcome.peakMB).toBeLessThan(LIMIT_RSS_MB);
}

function member(header: Partial<TarHeader> & { name: string }, data = 'x'.repeat(600)): Buffer {
  const content = Buffer.from(data);
  return Buffer.concat([
    encodeHeader({
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 0,
      size: content.byteLength,
      ...header,
    }),
    content,
    Buffer.alloc(paddingFor(content.byteLength)),
  ]);
}

/** `member` with its size field rewritten by `write` (and the checksum fixed). */
function withSizeField(write: (field: Buffer) => void): Buffer {
  const tar = member({ name: 'blobs/sha256/victim' });
  tar.fill(0, 124, 136);
  write(tar.subarray(124, 136));
  tar.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += tar[i] as number;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return tar;
}

const hostileArchives: [string, Buffer, RegExp][] = [
  ['a negative size field', withSizeField((f) => f.write('-0001000', 'latin1')), /size field "-0001000"/],
  [
    'a negative PAX size',
    member({ name: 'blobs/sha256/victim', pax: { size: '-1536' } }),
    /PAX record size="-1536"/,
  ],
  [
    'a PAX size of 4e9',
    member({ name: 'blobs/sha256/victim', pax: { size: '4000000000' } }),
    /4000000000 bytes claimed/,
  ],
  [
    'an 8 GiB size',
    withSizeField((f) => {
      f[0] = 0x80;
      f[7] = 2; // 2 × 256^4
    }),
    /8589934592 bytes claimed/,
  ],
  [
    'a truncated member',
    member({ name: 'blobs/sha256/victim' }).subarray(0, BLOCK + 100),
    /Unexpected end of data/,
  ],
];

describe('hostile archives given to inspect and push', () => {
  const layout = member({ name: 'oci-layout' }, '{"imageLayoutVersion":"1.0.0"}');

  it.each(hostileArchives)('%s: one line, exit 1, fast and small', async (_, body, message) => {
    const dir = tempDir('wharf-parsers-');
    const file = join(dir, 'hostile.tar');
    writeFileSync(file, Buffer.concat([layout, body, END_OF_ARCHIVE]));
    expectCleanFailure(await wharfMeasured(['inspect', file]), message);
    // nothing listens on port 9: the archive must fail before any request
    expectCleanFailure(await wharfMeasured(['push', file, '127.0.0.1:9/hostile:1']), message);
  });
});

describe('a pathological .dockerignore pattern', () => {
  it('builds quickly over a context with a 200-character name', async () => {
    const context = tempDir('wharf-parsers-');
    const long = 'a'.repeat(200);
    writeFileSync(join(context, long), 'kept');
    mkdirSync(join(context, 'deep', ...Array.from({ length: 30 }, () => 'b')), { recursive: true });
    writeFileSync(join(context, '.dockerignore'), `*a*a*a*a*a*a*a*a*b\n${'**/'.repeat(8)}c\n`);
    writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY . /app/\n');
    const dest = join(tempDir('wharf-parsers-'), 'out.tar');
    const outcome = await buildMeasured(['-f', join(context, 'Dockerfile'), context], dest);
    expect({ code: outcome.code, stderr: outcome.stderr }).toMatchObject({ code: 0 });
    expect(outcome.ms).toBeLessThan(LIMIT_MS);
    expect(outcome.peakMB).toBeLessThan(LIMIT_RSS_MB);
  });
});

describe('doubling and nested expansions', () => {
  const doubling = (instruction: string, name: string) =>
    `FROM scratch\n${instruction} ${name}0=xxxxxxxxxxxxxxxx\n${Array.from(
      { length: 40 },
      (_, i) => `${instruction} ${name}${i + 1}=$${name}${i}$${name}${i}`,
    ).join('\n')}\nENV out=$${name}40\n`;
  const nested = `${'${a:-'.repeat(2000)}x${'}'.repeat(2000)}`;
  // The Dockerfile front end has its own word lexer (dockerfile/parse/shell-lexer.ts); a build.ts hands
  // the nested word to the IR expander (ir/expand.ts). Both stop at 100 levels.
  const definitions: [string, string, string, RegExp][] = [
    [
      'ENV vN=$v(N-1)$v(N-1)',
      'Dockerfile',
      doubling('ENV', 'v'),
      /\$v16 makes \$v16\$v16 longer than 1048576 characters \(1 MiB\)/,
    ],
    [
      'ARG aN=$a(N-1)$a(N-1)',
      'Dockerfile',
      doubling('ARG', 'a'),
      /\$a16 makes \$a16\$a16 longer than 1048576 characters/,
    ],
    [
      'five ENV lines of 1 MiB each',
      'Dockerfile',
      `FROM scratch\nARG a0=xxxxxxxxxxxxxxx\n${Array.from({ length: 16 }, (_, i) => `ARG a${i + 1}=$a${i}$a${i}`).join('\n')}\n${Array.from({ length: 5 }, (_, i) => `ENV v${i}=$a16`).join('\n')}\n`,
      /^wharf: .*Dockerfile:23:1: .*ENV makes the image config's environment and labels \d+ characters, more than the limit of 4194304 \(4 MiB\)/,
    ],
    [
      '${a:-…} nested 2,000 deep (Dockerfile)',
      'Dockerfile',
      `FROM scratch\nENV x=${nested}\n`,
      /^wharf: .*Dockerfile:2:1: failed to process "\$\{a:-.*": \$\{…\} expressions nested more than 100 deep/,
    ],
    [
      '${a:-…} nested 2,000 deep (build.ts)',
      'build.ts',
      `import { define, stage } from '@wharf/core';\nexport default define({ target: stage('s').from('scratch').env({ x: '${nested}' }) });\n`,
      /nested more than 100 deep/,
    ],
  ];

  it.each(definitions)('%s fails clearly, fast and small', async (_, file, text, message) => {
    const context = tempDir('wharf-parsers-');
    writeFileSync(join(context, file), text);
    const definition = file === 'Dockerfile' ? ['-f', join(context, file), context] : [join(context, file)];
    const dest = join(tempDir('wharf-parsers-'), 'out.tar');
    const outcome = await buildMeasured(definition, dest);
    expectCleanFailure(outcome, message);
    expect(existsSync(dest)).toBe(false);
  });
});
