/**
 * Entitlements, as buildx has them: a build definition may ask for the host's network
 * (`RUN --network=host`) or an unconfined step (`RUN --security=insecure`), but only the person running
 * the build grants them (`wharf build --allow network.host`, `build(…, { allow: ['network.host'] })`).
 * Checked on the stages the target needs, before any work.
 */
import { WharfError } from '../errors.js';
import type { BuildGraph, RunInstruction } from './types.js';

export const ENTITLEMENTS = ['network.host', 'security.insecure'] as const;
export type Entitlement = (typeof ENTITLEMENTS)[number];

/** Checks an `--allow` value. Error: `IR_UNKNOWN_ENTITLEMENT`. */
export function parseEntitlement(value: string): Entitlement {
  if ((ENTITLEMENTS as readonly string[]).includes(value)) return value as Entitlement;
  throw new WharfError('IR_UNKNOWN_ENTITLEMENT', `unknown entitlement "${value}"`, {
    hint: `use ${ENTITLEMENTS.map((e) => `--allow ${e}`).join(' or ')}`,
  });
}

/** What a RUN instruction needs granted. */
function needs(run: RunInstruction): { entitlement: Entitlement; flag: string }[] {
  const wanted: { entitlement: Entitlement; flag: string }[] = [];
  if (run.network === 'host') wanted.push({ entitlement: 'network.host', flag: '--network=host' });
  if (run.security === 'insecure')
    wanted.push({ entitlement: 'security.insecure', flag: '--security=insecure' });
  return wanted;
}

/**
 * Throws `IR_NOT_ENTITLED` for the first RUN that needs an entitlement `allow` lacks, naming the
 * stage, the instruction and the flag that grants it.
 */
export function assertEntitled(graph: BuildGraph, allow: readonly Entitlement[] = []): void {
  for (const stage of graph.stages) {
    for (const [index, instruction] of stage.instructions.entries()) {
      if (instruction.kind !== 'run') continue;
      for (const { entitlement, flag } of needs(instruction)) {
        if (allow.includes(entitlement)) continue;
        throw new WharfError(
          'IR_NOT_ENTITLED',
          `stage "${stage.name}", RUN (instruction ${index + 1}): ${flag} needs the ${entitlement} entitlement, which this build was not given`,
          {
            hint: `if you trust this build definition, build with --allow ${entitlement} (build(): allow: ['${entitlement}'])`,
            ...(instruction.source ? { location: instruction.source } : {}),
          },
        );
      }
    }
  }
}
