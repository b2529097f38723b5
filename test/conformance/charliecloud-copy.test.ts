// Charliecloud's COPY-semantics suite (aligned to BuildKit), read in place from
// the peer suite charliecloud-copy/. The context is copied to a temp dir only because
// the suite's symlinks must be created (SOURCE.md step 1). The Dockerfile's RUN lines are replayed
// by a tiny interpreter over an in-memory view; each COPY is planned and its entries applied in
// order; the resulting /test tree is printed the way the suite's three commands print it
// (`ls -1FR .`, `find -type f … | sort`, `find -type l … | sort`) and compared with expected/.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WharfError } from '../../packages/core/src/errors.js';
import { planCopy } from '../../packages/core/src/layer/copy-plan.js';
import { applyEntries, type LayerEntry } from '../../packages/core/src/layer/entry.js';
import {
  cleanImagePath,
  joinImagePath,
  MemoryFsView,
  parentOf,
  resolveInView,
} from '../../packages/core/src/layer/fs-view.js';
import { openContextSource, type SourceTree } from '../../packages/core/src/layer/source.js';
import { peerSuite } from './peer-suites.js';

const suite = peerSuite('charliecloud-copy');

/** An image under construction: the view plus file contents (the view itself keeps none). */
class Image {
  readonly view = new MemoryFsView();
  readonly contents = new Map<string, string>();
  workdir = '/';

  abs(p: string): string {
    return cleanImagePath(p.startsWith('/') ? p : path.posix.join(this.workdir, p));
  }

  /** Where a new name lands: the parent resolved through symlinks, the last component literal. */
  place(p: string): string {
    const clean = this.abs(p);
    return joinImagePath(resolveInView(this.view, parentOf(clean)), clean.slice(clean.lastIndexOf('/') + 1));
  }

  async apply(entries: readonly LayerEntry[]): Promise<void> {
    applyEntries(this.view, entries);
    for (const e of entries) {
      if (e.type === 'file' && e.content.kind === 'path')
        this.contents.set(e.path, await readFile(e.content.path, 'utf8'));
      else if (e.type === 'hardlink') this.contents.set(e.path, this.contents.get(e.linkTarget) ?? '');
      else this.contents.delete(e.path);
    }
  }

  /** The few shell commands the suite's RUN lines use. */
  run(script: string): void {
    for (const raw of script.split('&&')) {
      const words = raw.trim().split(/\s+/);
      const [cmd, ...args] = words;
      if (cmd === 'mkdir') {
        const parents = args[0] === '-p';
        for (const p of parents ? args.slice(1) : args) {
          const clean = this.abs(p);
          const parts = clean.split('/');
          for (let i = parents ? 1 : parts.length; i <= parts.length; i++) {
            const at = this.place(`/${parts.slice(0, i).join('/')}`);
            if (!this.view.lookup(at)) this.view.set(at, { type: 'dir', mode: 0o755, uid: 0, gid: 0 });
          }
        }
      } else if (cmd === 'ln' && args[0] === '-s') {
        this.view.set(this.place(args[2] as string), {
          type: 'symlink',
          mode: 0o777,
          uid: 0,
          gid: 0,
          linkTarget: args[1] as string,
        });
      } else if (cmd === 'echo') {
        const m = /^echo\s+(?:'([^']*)'|(\S+))\s*>\s*(\S+)$/.exec(raw.trim());
        if (!m) throw new Error(`cannot interpret: ${raw}`);
        const target = resolveInView(this.view, this.abs(m[3] as string));
        this.view.set(target, { type: 'file', mode: 0o644, uid: 0, gid: 0 });
        this.contents.set(target, `${m[1] ?? m[2]}\n`);
      } else if (cmd === 'touch') {
        const target = resolveInView(this.view, this.abs(args[0] as string));
        if (!this.view.lookup(target)) this.view.set(target, { type: 'file', mode: 0o644, uid: 0, gid: 0 });
        this.contents.set(target, this.contents.get(target) ?? '');
      } else if (cmd === 'chmod') {
        const target = resolveInView(this.view, this.abs(args[1] as string));
        const st = this.view.lookup(target);
        if (!st) throw new Error(`chmod: no ${target}`);
        this.view.set(target, { ...st, mode: Number.parseInt(args[0] as string, 8) });
      } else if (cmd === 'test') {
        // test $(stat -c '%A' P | cut -c8-) (=|!=) 'rwx': the "other" permission bits of P
        const m = /stat -c '%A' (\S+) \| cut -c8-\) (!?=) 'rwx'/.exec(raw);
        if (!m) throw new Error(`cannot interpret: ${raw}`);
        const st = this.view.lookup(resolveInView(this.view, this.abs(m[1] as string)));
        const rwx = ((st?.mode ?? 0) & 0o7) === 0o7;
        if (rwx !== (m[2] === '=')) throw new Error(`RUN check failed: ${raw.trim()}`);
      } else if (cmd === 'stat' || cmd === 'apk' || cmd === 'ls' || cmd === 'find') {
        // output only
      } else throw new Error(`cannot interpret: ${raw}`);
    }
  }

  /** `ls -1FR .` in `dir`. */
  lsR(dir: string): string {
    const sections: string[] = [];
    const visit = (rel: string, shown: string) => {
      const names = this.view.list(joinImagePath(dir, rel)).sort();
      const lines = names.map((n) => {
        const st = this.view.lookup(joinImagePath(dir, joinImagePath(rel, n)));
        const suffix =
          st?.type === 'dir' ? '/' : st?.type === 'symlink' ? '@' : (st?.mode ?? 0) & 0o111 ? '*' : '';
        return n + suffix;
      });
      sections.push(lines.length > 0 ? `${shown}:\n${lines.join('\n')}` : `${shown}:`);
      for (const n of names) {
        if (this.view.lookup(joinImagePath(dir, joinImagePath(rel, n)))?.type === 'dir') {
          visit(joinImagePath(rel, n), `${shown}/${n}`);
        }
      }
    };
    visit('', '.');
    return `${sections.join('\n\n')}\n`;
  }

  /** `find . -type f -printf '%y: %p: ' -exec cat {} \; | sort` and the `-type l` variant. */
  find(dir: string): { files: string; links: string } {
    const files: string[] = [];
    const links: string[] = [];
    for (const [p, st] of this.view.walk(dir)) {
      const shown = `./${p.slice(dir.length + 1)}`;
      if (st.type === 'file')
        files.push(...`f: ${shown}: ${this.contents.get(p) ?? ''}`.replace(/\n$/, '').split('\n'));
      if (st.type === 'symlink') links.push(`l: ${shown} -> ${st.linkTarget}`);
    }
    const sort = (a: string[]) =>
      `${a.sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))).join('\n')}\n`;
    return { files: sort(files), links: sort(links) };
  }
}

/** The suite's Dockerfile as (instruction, argument text) pairs: comments dropped, continuations joined. */
function parseDockerfile(text: string): { verb: string; rest: string; line: number }[] {
  const out: { verb: string; rest: string; line: number }[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((line, i) => {
    if (buf === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (buf === '') start = i + 1;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      return;
    }
    buf += line;
    const m = /^\s*(\S+)\s*(.*)$/.exec(buf) as RegExpExecArray;
    out.push({ verb: (m[1] as string).toUpperCase(), rest: m[2] as string, line: start });
    buf = '';
  });
  return out;
}

async function copy(image: Image, source: SourceTree, args: string): Promise<void> {
  const words = args.trim().split(/\s+/);
  const dest = words.pop() as string;
  const plan = await planCopy({ sources: words, dest, workdir: image.workdir, source, view: image.view });
  await image.apply(plan.entries);
}

describe('Charliecloud COPY suite (BuildKit expectations)', () => {
  let context: string;
  let source: SourceTree;

  beforeAll(async () => {
    const tmp = await mkdtemp(path.join(tmpdir(), 'wharf-cc-'));
    context = path.join(tmp, 'context');
    execFileSync('cp', ['-r', path.join(suite, 'context'), context]);
    execFileSync('chmod', ['-R', 'u+w', context]);
    const links = await readFile(path.join(suite, 'symlinks-to-create.txt'), 'utf8');
    for (const line of links.split('\n')) {
      const m = /^context\/(\S+) -> (\S+)$/.exec(line.trim());
      if (m) await symlink(m[2] as string, path.join(context, m[1] as string));
    }
    source = await openContextSource(context, { ignore: [] });
  });

  afterAll(async () => {
    if (context) await rm(path.dirname(context), { recursive: true, force: true });
  });

  it('builds the tree BuildKit builds', async () => {
    const image = new Image();
    const instructions = parseDockerfile(await readFile(path.join(suite, 'Dockerfile'), 'utf8'));
    let copies = 0;
    for (const { verb, rest, line } of instructions) {
      try {
        if (verb === 'RUN') image.run(rest);
        else if (verb === 'WORKDIR') image.workdir = rest.trim();
        else if (verb === 'COPY') {
          await copy(image, source, rest);
          copies++;
        }
      } catch (error) {
        throw new Error(`Dockerfile line ${line}: ${verb} ${rest}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    expect(copies).toBe(39);
    const expected = async (name: string) => readFile(path.join(suite, 'expected', name), 'utf8');
    expect(image.lsR('test')).toBe(await expected('ls-1FR.txt'));
    const { files, links } = image.find('test');
    expect(files).toBe(await expected('regular-files.txt'));
    expect(links).toBe(await expected('symlinks.txt'));
  });

  // The two cases commented out upstream (issue #1707) are where BuildKit fails the build.
  it('fails like BuildKit when a directory meets an existing file at the 2nd level', async () => {
    const image = new Image();
    image.run('mkdir /test');
    image.workdir = '/test';
    await copy(image, source, 'dirA dir08a');
    image.run('touch dir08a/dirCb');
    await expect(copy(image, source, 'dirCa dir08a')).rejects.toMatchObject({
      code: 'COPY_NOT_A_DIRECTORY',
      message: 'cannot copy to non-directory: /test/dir08a/dirCb',
    });
  });

  it('replaces 2nd-level symlinks with files and links, and fails on a directory over a link', async () => {
    const image = new Image();
    image.run('mkdir /test && mkdir /test/dir20 && mkdir /test/dir20/dirx');
    image.workdir = '/test';
    image.run('echo new > dir20/filex');
    for (const i of [1, 2, 3, 4]) {
      image.run(`echo file${i} > dir20/file${i} && ln -s file${i} dir20/s_file${i} && mkdir dir20/dir${i}`);
      image.run(`echo dir${i}/file_ > dir20/dir${i}/file_ && ln -s dir${i} dir20/s_dir${i}`);
    }
    const error = await copy(image, source, 'dirG dir20/').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WharfError);
    expect(error).toMatchObject({
      code: 'COPY_NOT_A_DIRECTORY',
      message: 'cannot copy to non-directory: /test/dir20/s_dir4',
    });
    // Without the two directory cases (--exclude), every link is replaced, never followed.
    const plan = await planCopy({
      sources: ['dirG'],
      dest: 'dir20/',
      workdir: '/test',
      source,
      view: image.view,
      exclude: ['s_dir4', 's_file4'],
    });
    await image.apply(plan.entries);
    const { files, links } = image.find('test/dir20');
    expect(files).toContain('f: ./s_dir1: new\n');
    expect(files).toContain('f: ./s_file1: new\n');
    expect(files).toContain('f: ./dir1/file_: dir1/file_\n');
    expect(links).toContain('l: ./s_dir2 -> filey\n');
    expect(links).toContain('l: ./s_dir3 -> diry\n');
    expect(links).toContain('l: ./s_file3 -> diry\n');
    expect(links).toContain('l: ./s_dir4 -> dir4\n');
    expect(image.view.lookup('test/dir20/s_dir1')?.type).toBe('file');
  });
});
