/**
 * `wharf inspect REF` for images in a registry: manifest digest and media type, platform, config
 * (entrypoint, cmd, env, user, workdir, labels), layers with sizes; `--json` for the raw documents.
 * Nothing is downloaded but the manifest and the config. `inspectRemote` is exported so a local
 * `inspect` (layouts and archives) can hand registry references to it.
 */
import { oci, remoteImage } from '@wharf/core';

const size = (bytes: number): string =>
  bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MB`
    : bytes >= 1024
      ? `${(bytes / 1024).toFixed(1)} kB`
      : `${bytes} B`;

/** The report for a remote image, as text or JSON. */
export async function inspectRemote(
  ref: string,
  options: Parameters<typeof remoteImage>[1] & { readonly json?: boolean } = {},
): Promise<string> {
  const image = remoteImage(ref, options);
  const [manifest, config, digest, mediaType, configDescriptor] = await Promise.all([
    image.manifest(),
    image.config(),
    image.digest(),
    image.mediaType(),
    image.configDescriptor(),
  ]);
  const reference = oci.parseReference(ref).toString();
  if (options.json) {
    return `${JSON.stringify({ reference, digest, mediaType, manifest, config }, null, 2)}\n`;
  }
  const total = manifest.layers.reduce((n, l) => n + l.size, 0);
  const c = config.config ?? {};
  const lines = [
    `Name:         ${reference}`,
    `Digest:       ${digest}`,
    `MediaType:    ${mediaType}`,
    `Platform:     ${oci.formatPlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) })}`,
    ...(config.created ? [`Created:      ${config.created}`] : []),
    `Config:       ${configDescriptor.digest} (${size(configDescriptor.size)})`,
    ...(c.User ? [`User:         ${c.User}`] : []),
    ...(c.WorkingDir ? [`WorkingDir:   ${c.WorkingDir}`] : []),
    ...(c.Entrypoint ? [`Entrypoint:   ${JSON.stringify(c.Entrypoint)}`] : []),
    ...(c.Cmd ? [`Cmd:          ${JSON.stringify(c.Cmd)}`] : []),
    ...(c.Env?.length ? ['Env:', ...c.Env.map((e) => `  ${e}`)] : []),
    ...(c.ExposedPorts ? [`Ports:        ${Object.keys(c.ExposedPorts).join(' ')}`] : []),
    ...(c.Labels && Object.keys(c.Labels).length
      ? ['Labels:', ...Object.entries(c.Labels).map(([k, v]) => `  ${k}=${v}`)]
      : []),
    `Layers:       ${manifest.layers.length} (${size(total)} compressed)`,
    ...manifest.layers.map(
      (l, i) => `  ${String(i + 1).padStart(2)}  ${l.digest}  ${size(l.size).padStart(9)}  ${l.mediaType}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
