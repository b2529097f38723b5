// Micro-benchmark of a big COPY's key side, without the layer write: the stat cache's read, entryDigests
// (stat-cache lookups and the key's file record), stepKey, the step cache's lookup, remembering the
// step position, the stat cache's save — CPU ms each and the heap they hold. Runs a checkout's built
// modules, so two checkouts compare side by side:
//   node --expose-gc bench/copy-key.mjs CHECKOUT cold|warm CONTEXT_DIR
// `cold` starts with an empty cache (the digests are learned as a write-first COPY learns them), `warm`
// reuses the cache the last `cold` run of that checkout left in /tmp/wharf-copy-key-<checkout name>.
import { lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const [root, mode, ctxRoot] = process.argv.slice(2);
if (!root || !['cold', 'warm'].includes(mode) || !ctxRoot)
  throw new Error('usage: CHECKOUT cold|warm CONTEXT_DIR');
const { FileDigests } = await import(join(root, 'packages/core/dist/cache/file-digests.js'));
const { StepCache, stepKey } = await import(join(root, 'packages/core/dist/cache/step-cache.js'));
const { entryDigests } = await import(join(root, 'packages/core/dist/engine/steps/entries.js'));
const entries = [];
const walk = (d, rel) => {
  for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(d, e.name);
    const r = rel ? `${rel}/${e.name}` : e.name;
    const st = lstatSync(p, { bigint: true });
    if (e.isDirectory()) {
      entries.push({ type: 'dir', path: `app/${r}`, mode: 0o755, uid: 0, gid: 0 });
      walk(p, r);
    } else if (e.isFile())
      entries.push({
        type: 'file',
        path: `app/${r}`,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: Number(st.size),
        content: { kind: 'path', path: p, seen: { mtimeNs: st.mtimeNs, ino: st.ino, dev: st.dev } },
      });
    else if (e.isSymbolicLink())
      entries.push({ type: 'symlink', path: `app/${r}`, mode: 0o777, uid: 0, gid: 0, linkTarget: 'x' });
  }
};
walk(ctxRoot, '');
const dir = `/tmp/wharf-copy-key-${root.split('/').pop()}`;
if (mode === 'cold') {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
globalThis.gc?.();
globalThis.gc?.();
const h0 = process.memoryUsage().heapUsed;
const t = [];
let c0 = process.cpuUsage();
const lap = (name) => {
  const c = process.cpuUsage(c0);
  t.push(`${name} ${((c.user + c.system) / 1000).toFixed(0)}`);
  c0 = process.cpuUsage();
};
const fd = await FileDigests.open(join(dir, 'file-digests.json'));
lap('open');
if (mode === 'cold') {
  const { createHash } = await import('node:crypto');
  for (const e of entries)
    if (e.type === 'file')
      fd.learn(
        e.content.path,
        { size: e.size, ...e.content.seen },
        createHash('sha256').update(e.content.path).digest('hex'),
      );
  lap('learn');
}
const ctx = { fileDigests: fd, contextRoot: ctxRoot };
const files = await entryDigests(entries, ctx);
lap('entryDigests');
const peak1 = process.memoryUsage().heapUsed;
const inputs = {
  parent: 'p',
  parentIsBase: false,
  config: '{}',
  args: [],
  instruction: 'COPY . .',
  files,
  epoch: 0,
};
const key = stepKey(inputs);
lap('stepKey');
const cache = new StepCache(dir);
const found = await cache.get(key, { slot: 'slot', inputs });
lap(`get ${found.kind}`);
if (found.kind === 'miss') await cache.put(key, null);
if (cache.remember.length === 3) await cache.remember('slot', key, inputs);
else await cache.remember('slot', inputs);
lap('remember');
const peak2 = process.memoryUsage().heapUsed;
await fd.save();
lap('save');
console.log(
  `${root.split('/').pop()} ${mode} ${entries.length} entries | ${t.join(' | ')} | heap +${((peak1 - h0) / 2 ** 20).toFixed(1)} +${((peak2 - h0) / 2 ** 20).toFixed(1)} MiB key ${key.slice(0, 8)}`,
);
