/**
 * `--changed-since`'s second question: has a target's base tag moved? A target whose files did not
 * change is still built when the base image its FROM chain starts at (`node:20-alpine`) now names
 * other layers than the ones its image in the registry was built on. The pushed image is the record:
 * it starts with its base's layers (wharf pushes base layers as they came), so comparing that prefix
 * with the base's current layers needs two manifest reads per platform, no layer, no local state —
 * a fresh CI machine answers the same as the one that pushed.
 *
 * Not checked (the target stays skipped): a base written with a variable (`FROM node:${NODE}`), one
 * pinned by digest (it cannot move), images read by `COPY --from` or `RUN --mount from=`, and a base
 * whose config changed without its layers.
 */

import { hasExpansion } from '../ir/expand.js';
import { targetName } from '../ir/graph.js';
import type { BuildGraph, Stage } from '../ir/types.js';
import { parseReference } from '../oci/index.js';
import { type RegistryOptions, remoteImage } from '../registry/index.js';
import type { TargetChange } from './changes.js';

/** What {@link baseMoves} needs to know of one target still skipped. */
export interface BaseCheck {
  /** The target's graph (its target stage is the one built). */
  readonly graph: BuildGraph;
  /** Its tags: the first is where its last image was pushed. */
  readonly tags: readonly string[];
  /** Its platforms (`linux/amd64`); none: this machine's. */
  readonly platforms: readonly string[];
}

/**
 * For each target, a reason to build it when its base tag moved since its image was pushed (or that
 * image is not in the registry); targets without one are left out of the answer.
 * @example await baseMoves(new Map([['api', { graph, tags: ['r.example/api:1'], platforms: [] }]]), {})
 */
export async function baseMoves(
  checks: ReadonlyMap<string, BaseCheck>,
  registry: RegistryOptions,
): Promise<Map<string, TargetChange>> {
  const out = new Map<string, TargetChange>();
  await Promise.all(
    [...checks].map(async ([name, check]) => {
      const reason = await baseMove(check, registry);
      if (reason !== undefined) out.set(name, { build: true, reason });
    }),
  );
  return out;
}

async function baseMove(check: BaseCheck, registry: RegistryOptions): Promise<string | undefined> {
  const base = rootBase(check.graph, targetName(check.graph));
  const [tag] = check.tags;
  if (base === undefined || tag === undefined) return undefined;
  const platforms = check.platforms.length > 0 ? check.platforms : [undefined];
  for (const platform of platforms) {
    const options = { ...registry, ...(platform ? { platform } : {}) };
    const layers = async (ref: string) =>
      (await remoteImage(ref, options).manifest()).layers.map((l) => l.digest);
    let built: string[];
    try {
      built = await layers(tag);
    } catch (error) {
      return `its image ${tag} could not be read to compare its base (${(error as Error).message})`;
    }
    let now: string[];
    try {
      now = await layers(base);
    } catch (error) {
      return `its base ${base} could not be resolved (${(error as Error).message})`;
    }
    if (now.length > built.length || now.some((digest, i) => built[i] !== digest)) {
      const where = platform ? ` for ${platform}` : '';
      return `its base ${base} now names other layers than ${tag} was built on${where} (the tag moved)`;
    }
  }
  return undefined;
}

/** The image a target's FROM chain starts at, when it can move: a tag written without variables. */
function rootBase(graph: BuildGraph, target: string): string | undefined {
  const seen = new Set<string>();
  let stage: Stage | undefined = graph.stages.find((s) => s.name === target);
  while (stage && !seen.has(stage.name)) {
    seen.add(stage.name);
    const base: Stage['base'] = stage.base;
    if (base.kind === 'scratch') return undefined;
    if (base.kind === 'image') {
      if (hasExpansion(base.ref) || parseReference(base.ref).digest !== undefined) return undefined;
      return base.ref;
    }
    stage = graph.stages.find((s) => s.name === base.stage);
  }
  return undefined;
}
