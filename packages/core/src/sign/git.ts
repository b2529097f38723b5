/**
 * The git commit and remote of a build context, read from `.git` files directly. Running `git` in a
 * context would obey its config (`core.fsmonitor`, hooks run programs), and the context is untrusted;
 * the files read here are small and bounded, and a credential in the remote URL is dropped.
 */
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const MAX_FILE = 256 * 1024;
const COMMIT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

async function readSmall(path: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(MAX_FILE);
    const { bytesRead } = await handle.read(buffer, 0, MAX_FILE, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** `https://user:token@host/x.git` → `https://host/x.git`; scp-style `git@host:x.git` is kept (no secret). */
export function redactRemote(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/** The `.git` folder of `dir` (a worktree's `.git` file points at it) and the common folder (refs, config). */
async function gitDirs(dir: string): Promise<{ git: string; common: string } | undefined> {
  const dotGit = join(dir, '.git');
  const pointer = await readSmall(dotGit);
  let git = dotGit;
  if (pointer !== undefined) {
    const match = /^gitdir: (.+)$/m.exec(pointer);
    if (!match?.[1]) return undefined;
    git = resolve(dir, match[1].trim());
  } else if ((await readSmall(join(dotGit, 'HEAD'))) === undefined) {
    return undefined;
  }
  const commonDir = (await readSmall(join(git, 'commondir')))?.trim();
  return { git, common: commonDir ? resolve(git, commonDir) : git };
}

async function resolveRef(git: string, common: string, ref: string): Promise<string | undefined> {
  if (!/^refs\/[A-Za-z0-9._/-]+$/.test(ref) || ref.includes('..')) return undefined;
  for (const base of [git, common]) {
    const loose = (await readSmall(join(base, ref)))?.trim();
    if (loose && COMMIT.test(loose)) return loose;
  }
  const packed = await readSmall(join(common, 'packed-refs'));
  for (const line of packed?.split('\n') ?? []) {
    const [commit, name] = line.trim().split(' ');
    if (name === ref && commit && COMMIT.test(commit)) return commit;
  }
  return undefined;
}

/** The checked-out commit of `dir` and its `origin` remote (or the first remote), when `dir` is a git checkout. */
export async function gitSource(dir: string): Promise<{ commit: string; remote?: string } | undefined> {
  const dirs = await gitDirs(dir);
  if (!dirs) return undefined;
  const head = (await readSmall(join(dirs.git, 'HEAD')))?.trim();
  if (!head) return undefined;
  const ref = /^ref: (.+)$/.exec(head)?.[1];
  const commit = ref ? await resolveRef(dirs.git, dirs.common, ref) : COMMIT.test(head) ? head : undefined;
  if (!commit) return undefined;
  const config = (await readSmall(join(dirs.common, 'config'))) ?? '';
  const remotes = [...config.matchAll(/^\s*\[remote "([^"]+)"\]([^[]*)/gm)].map((m) => ({
    name: m[1],
    url: /^\s*url\s*=\s*(.+?)\s*$/m.exec(m[2] ?? '')?.[1],
  }));
  const remote = (remotes.find((r) => r.name === 'origin' && r.url) ?? remotes.find((r) => r.url))?.url;
  return remote ? { commit, remote: redactRemote(remote) } : { commit };
}
