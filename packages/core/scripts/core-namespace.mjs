// One naming rule for the namespaces core.js exports, one per package export: core's bundle script
// (packages/core/scripts/bundle.mjs) exports them and the CLI's (packages/cli/scripts/bundle.mjs) reads
// `@wharf/core[/x]` from them, so both must spell the names alike.

/** The namespace of `@wharf/core/<subpath>` in core.js: `oci` → `wharf_oci`; the root ('' or undefined) → `wharf_root`. */
export function namespaceOf(subpath) {
  return `wharf_${subpath ? subpath.replace(/\W/g, '_') : 'root'}`;
}
