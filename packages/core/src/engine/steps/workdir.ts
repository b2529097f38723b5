/**
 * WORKDIR: sets the config's working directory and creates it (and missing parents), mode 0755, owned
 * by the stage's USER (a name is resolved in the image's /etc/passwd), as BuildKit does.
 */
import { WharfError } from '../../errors.js';
import { expandWord } from '../../ir/expand.js';
import type { WorkdirInstruction } from '../../ir/types.js';
import { resolveChown } from '../../layer/chown.js';
import type { LayerEntry } from '../../layer/entry.js';
import { resolveInView } from '../../layer/fs-view.js';
import { applyMetadata, resolveWorkdir } from '../metadata.js';
import type { StepContext } from './context.js';
import { entriesStep, entryDigests } from './entries.js';

export async function workdirStep(instruction: WorkdirInstruction, step: StepContext): Promise<void> {
  const entries = await workdirEntries(instruction, step);
  const files = await entryDigests(entries, step.ctx);
  step.setState(applyMetadata(step.state, instruction, step.lookup));
  await entriesStep({ entries, files, release: async () => {} }, step);
}

/** The directories WORKDIR creates, with the parents already there (as BuildKit's differ writes them). */
async function workdirEntries(instruction: WorkdirInstruction, step: StepContext): Promise<LayerEntry[]> {
  const { base, lookup } = step;
  const config = step.state.config;
  const path = resolveWorkdir(config.WorkingDir, expandWord(instruction.path, lookup));
  if (path === '/') return [];
  const owner = config.User ? await resolveChown(config.User, (file) => base.files.read(file)) : undefined;
  // Created through symlinks, inside the image (BuildKit's mkdir resolves with fs.RootPath):
  // WORKDIR /link/sub with /link -> /real makes /real/sub; the config keeps the path as written.
  const resolved = resolveInView(base.view, path);
  if (resolved === '') return [];
  const parts = resolved.split('/');
  const entries: LayerEntry[] = [];
  const existingParents: LayerEntry[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    const existing = base.view.lookup(dir);
    if (existing?.type === 'dir') {
      // Parents already in the image go into the layer with their own metadata (as BuildKit's differ
      // writes them): a layer that omitted them would show them as root 0755 in an overlay stack.
      existingParents.push({
        type: 'dir',
        path: dir,
        mode: existing.mode,
        uid: existing.uid,
        gid: existing.gid,
      });
      continue;
    }
    if (existing) {
      throw new WharfError(
        'ENGINE_WORKDIR_NOT_DIR',
        `WORKDIR ${path}: /${dir} exists and is not a directory`,
        {
          hint: 'choose another WORKDIR or remove that file in an earlier step',
        },
      );
    }
    entries.push({ type: 'dir', path: dir, mode: 0o755, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0 });
  }
  // Nothing new to create: no layer (BuildKit drops the empty diff).
  return entries.length === 0 ? [] : [...existingParents, ...entries];
}
