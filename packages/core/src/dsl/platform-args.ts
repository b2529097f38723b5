/**
 * BuildKit's automatic platform ARGs as typed values, so a build.ts names them without spelling
 * `'$BUILDPLATFORM'`: `buildPlatform` for `from(image, { platform: buildPlatform })` (a stage built
 * once, natively, for every target platform), and `platformArgs.TARGETARCH` & co. for the rest.
 *
 * Their scoping is BuildKit's, because the emitted Dockerfile is the same: in a FROM line (the base
 * reference, `--platform`) they are defined automatically; inside a stage a step sees one only after
 * `.arg(platformArgs.TARGETARCH)` declares it (`ARG TARGETARCH`), else it is empty (`wharf lint`
 * reports such a use in COPY/ENV/WORKDIR… as UndefinedVar; a RUN's shell sees an empty variable). A value interpolates as `${NAME}` in any string.
 */
import { usage } from './usage.js';

export const PLATFORM_ARG_BRAND = Symbol.for('wharf.platformArg');

/** The names BuildKit defines for every build: the target platform's and the build machine's. */
export type PlatformArgName =
  | 'TARGETPLATFORM'
  | 'TARGETOS'
  | 'TARGETARCH'
  | 'TARGETVARIANT'
  | 'BUILDPLATFORM'
  | 'BUILDOS'
  | 'BUILDARCH'
  | 'BUILDVARIANT';

/**
 * One automatic platform ARG. In a template string it is `${NAME}`; `.arg(value)` declares it in a
 * stage; `from(…, { platform: value })` writes `FROM --platform=$NAME`.
 * @example stage('build').from('golang:1.22', { platform: buildPlatform }).arg(platformArgs.TARGETARCH)
 */
export interface PlatformArg<N extends PlatformArgName = PlatformArgName> {
  readonly [PLATFORM_ARG_BRAND]: true;
  readonly name: N;
  /** `${NAME}`, for interpolation: `` `GOARCH=${platformArgs.TARGETARCH}` ``. */
  toString(): `\${${N}}`;
}

function platformArg<N extends PlatformArgName>(name: N): PlatformArg<N> {
  const text = `\${${name}}` as `\${${N}}`;
  return Object.freeze({ [PLATFORM_ARG_BRAND]: true as const, name, toString: () => text });
}

/**
 * The eight platform ARGs: `TARGETPLATFORM` (`linux/arm64/v8`), `TARGETOS` (`linux`), `TARGETARCH`
 * (`arm64`), `TARGETVARIANT` (`v8`, or empty), and the same four for the build machine (`BUILD*`).
 * @example
 * stage('build')
 *   .from('golang:1.22', { platform: buildPlatform })
 *   .arg(platformArgs.TARGETOS, platformArgs.TARGETARCH)
 *   .run(`GOOS=${platformArgs.TARGETOS} GOARCH=${platformArgs.TARGETARCH} go build -o /out/app .`)
 */
export const platformArgs: { readonly [N in PlatformArgName]: PlatformArg<N> } = Object.freeze({
  TARGETPLATFORM: platformArg('TARGETPLATFORM'),
  TARGETOS: platformArg('TARGETOS'),
  TARGETARCH: platformArg('TARGETARCH'),
  TARGETVARIANT: platformArg('TARGETVARIANT'),
  BUILDPLATFORM: platformArg('BUILDPLATFORM'),
  BUILDOS: platformArg('BUILDOS'),
  BUILDARCH: platformArg('BUILDARCH'),
  BUILDVARIANT: platformArg('BUILDVARIANT'),
});

/**
 * The build machine's platform, for `from(image, { platform: buildPlatform })`: `FROM
 * --platform=$BUILDPLATFORM`. Such a stage runs natively (no emulation) and, unless it reads a
 * TARGET* ARG, is built once and shared by every target platform — the cross-compilation pattern.
 * @example
 * const build = stage('build').from('golang:1.22', { platform: buildPlatform }).arg(platformArgs.TARGETARCH)
 */
export const buildPlatform: PlatformArg<'BUILDPLATFORM'> = platformArgs.BUILDPLATFORM;

/**
 * Whether `value` is a platform ARG value (by any copy of @wharf/core: a `Symbol.for` brand).
 * @example isPlatformArg(buildPlatform) // true; isPlatformArg('$BUILDPLATFORM') // false
 */
export function isPlatformArg(value: unknown): value is PlatformArg {
  return typeof value === 'object' && value !== null && PLATFORM_ARG_BRAND in value;
}

/**
 * A `from()` platform option as the Dockerfile writes it: a platform ARG value → `$NAME`; a string
 * as given (`linux/arm64`, `$BUILDPLATFORM`).
 */
export function platformWord(platform: unknown, method: string): string | undefined {
  if (platform === undefined) return undefined;
  if (isPlatformArg(platform)) return `$${platform.name}`;
  if (typeof platform === 'string' && platform !== '') return platform;
  return usage(
    method,
    'option "platform" must be a platform (\'linux/arm64\') or a platform ARG value',
    'from(image, { platform: buildPlatform }) or { platform: "linux/arm64" }',
  );
}
