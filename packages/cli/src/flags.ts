/** Parsers for buildx-compatible flags: repeatable values, `--build-arg K=V`, `--platform`. */

import { WharfError } from '@wharf/core';
import { type Entitlement, parseEntitlement } from '@wharf/core/ir';
import * as oci from '@wharf/core/oci';
import { InvalidArgumentError } from 'commander';

/** commander reducer for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--build-arg K=V` (or `K`, taking the value from the environment, as docker does). */
export function parseBuildArgs(
  values: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const args: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    const name = at < 0 ? value : value.slice(0, at);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new WharfError('CLI_BAD_BUILD_ARG', `invalid --build-arg "${value}"`, {
        hint: 'use --build-arg NAME=value',
      });
    }
    const resolved = at < 0 ? env[name] : value.slice(at + 1);
    if (resolved !== undefined) args[name] = resolved;
  }
  return args;
}

/**
 * `--build-context NAME=oci-layout://PATH[:TAG|@DIGEST]`, `NAME=docker-image://REF` or `NAME=DIR`
 * (buildx syntax); the engine reads the values (relative paths from the current directory).
 */
export function parseBuildContextFlags(values: readonly string[] = []): Record<string, string> {
  const contexts: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf('=');
    if (at <= 0 || at === value.length - 1) {
      throw new WharfError('CLI_BAD_BUILD_CONTEXT', `invalid --build-context "${value}"`, {
        hint: 'use --build-context NAME=oci-layout://PATH[:TAG|@DIGEST], NAME=docker-image://REF or NAME=DIR',
      });
    }
    contexts[value.slice(0, at)] = value.slice(at + 1);
  }
  return contexts;
}

/**
 * commander reducer for `--platform`: a comma list, repeatable; every value is kept (never only the
 * last) and each is parsed here, so `--platform garbage` is a usage error (exit 2) before any work.
 */
export function collectPlatforms(value: string, previous: oci.Platform[] = []): oci.Platform[] {
  const parsed = value.split(',').map((part) => {
    try {
      return oci.parsePlatform(part);
    } catch (error) {
      const hint = (error as { hint?: string }).hint;
      throw new InvalidArgumentError(`${(error as Error).message}${hint ? `; ${hint}` : ''}`);
    }
  });
  return [...previous, ...parsed];
}

/** `--allow network.host --allow security.insecure` (buildx's entitlements; commas accepted too). */
export function parseAllow(values: readonly string[] = []): Entitlement[] {
  return values.flatMap((value) => value.split(',')).map((value) => parseEntitlement(value.trim()));
}

/** A `--secret` value: where the secret comes from (never its value on the command line). */
export type SecretFlag = { readonly path: string } | { readonly env: string };

/** `--secret id=npmrc,src=$HOME/.npmrc` or `--secret id=token,env=TOKEN` (buildx syntax). */
export function parseSecrets(values: readonly string[] = []): Record<string, SecretFlag> {
  const secrets: Record<string, SecretFlag> = {};
  for (const value of values) {
    const fields = Object.fromEntries(
      value.split(',').map((part) => {
        const at = part.indexOf('=');
        return at < 0 ? [part, ''] : [part.slice(0, at), part.slice(at + 1)];
      }),
    ) as Record<string, string>;
    const id = fields.id;
    const src = fields.src ?? fields.source;
    if (!id || (!src && !fields.env)) {
      throw new WharfError('CLI_BAD_SECRET', `invalid --secret "${value}"`, {
        hint: 'use --secret id=NAME,src=FILE or --secret id=NAME,env=VARIABLE',
      });
    }
    secrets[id] = src ? { path: src } : { env: fields.env as string };
  }
  return secrets;
}
