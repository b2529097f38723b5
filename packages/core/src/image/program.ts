/**
 * A system program as a stream: the one way core runs a (de)compressor — `zstd` for layers, `bzip2`,
 * `xz` and `zstd` for ADD archives. The program is found on `PATH` once ({@link findProgram}) and
 * spawned with an argument array (never a shell) and an empty environment, so variables such as
 * `ZSTD_CLEVEL` or `XZ_DEFAULTS` cannot change what it does.
 *
 * @example
 * const xz = findProgram('xz');
 * if (xz) await pipeline(createReadStream('a.tar.xz'), programStream(xz, ['-dc'], { failure }), sink);
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { Duplex, type Readable, type Writable } from 'node:stream';

const found = new Map<string, string | undefined>();

/**
 * The absolute path of the executable `name` on `PATH` (looked up once per name and `PATH` value),
 * or `undefined`. Relative `PATH` entries are skipped: they would depend on the working directory.
 *
 * @example
 * const zstd = findProgram('zstd'); // '/usr/bin/zstd'
 */
export function findProgram(name: string): string | undefined {
  const path = process.env.PATH ?? '';
  const key = `${name}\0${path}`;
  if (found.has(key)) return found.get(key);
  let program: string | undefined;
  for (const dir of path.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (!statSync(candidate).isFile()) continue;
      program = candidate;
      break;
    } catch {}
  }
  found.set(key, program);
  return program;
}

/** Options of {@link programStream}. */
export interface ProgramStreamOptions {
  /**
   * The error the stream fails with when the program exits non-zero, is killed or cannot start.
   * `detail` says how (`/usr/bin/xz exited 1: xz: (stdin): File format not recognized`).
   */
  readonly failure: (detail: string, cause?: unknown) => Error;
}

type Child = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * `program args…` as a duplex: what is written goes to its stdin, its stdout is what is read. The
 * readable side ends only after the program exited 0; any other exit (or a spawn failure) destroys
 * the stream with `options.failure(detail)`, the detail naming the exit and the first line of the
 * program's stderr. Destroying the stream kills the program.
 *
 * @example
 * await pipeline(input, programStream('/usr/bin/zstd', ['-q', '-d', '-c'], { failure: (d) => new Error(d) }), output);
 */
export function programStream(
  program: string,
  args: readonly string[],
  options: ProgramStreamOptions,
): Duplex {
  let child: Child | undefined;
  let stderr = '';
  let exited = false;
  let stdoutEnded = false;
  let exitCode: number | null = null;
  let signal: NodeJS.Signals | null = null;
  const duplex = new Duplex({
    readableHighWaterMark: 1024 * 1024,
    writableHighWaterMark: 1024 * 1024,
    read() {
      child?.stdout.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (!child || exited) {
        callback(failure());
        return;
      }
      if (child.stdin.write(chunk)) callback();
      else {
        // A program that dies leaves no 'drain': its close event reports the failure instead.
        const onDrain = () => {
          child?.removeListener('close', onClose);
          callback();
        };
        const onClose = () => {
          child?.stdin.removeListener('drain', onDrain);
          callback(failure());
        };
        child.stdin.once('drain', onDrain);
        child.once('close', onClose);
      }
    },
    final(callback) {
      if (!child || exited) {
        callback(exitCode === 0 ? null : failure());
        return;
      }
      child.stdin.end();
      callback();
    },
    destroy(error, callback) {
      if (child && !exited) child.kill('SIGKILL');
      callback(error);
    },
  });
  const failure = (cause?: unknown) => {
    const how = exitCode !== null ? `exited ${exitCode}` : signal ? `was killed (${signal})` : 'did not run';
    const said = stderr.trim() ? `: ${stderr.trim().split('\n')[0]}` : '';
    return options.failure(`${program} ${how}${said}`, cause);
  };
  const finish = () => {
    if (!exited || !stdoutEnded || duplex.destroyed) return;
    if (exitCode === 0) duplex.push(null);
    else duplex.destroy(failure());
  };
  try {
    child = spawn(program, [...args], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
  } catch (error) {
    process.nextTick(() => duplex.destroy(failure(error)));
    return duplex;
  }
  const running = child;
  running.stdin.on('error', () => {}); // EPIPE when the program died: its exit status says why
  running.stderr.setEncoding('utf8');
  running.stderr.on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  running.stdout.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) running.stdout.pause();
  });
  running.stdout.on('end', () => {
    stdoutEnded = true;
    finish();
  });
  running.on('error', (error) => {
    exited = true;
    duplex.destroy(failure(error));
  });
  running.on('close', (code, killedBy) => {
    exited = true;
    exitCode = code;
    signal = killedBy;
    stdoutEnded = true; // close comes after stdio closed
    finish();
  });
  return duplex;
}
