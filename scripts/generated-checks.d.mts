/** See generated-checks.mjs: writes the tsconfig.json and biome.json a generated build.ts is checked with. */
export function writeGeneratedChecks(
  dir: string,
  options: { core: string; include: string },
): { tsc: string; tsconfig: string; biome: string };
