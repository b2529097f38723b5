// The module boundaries of DESIGN.md as a test: each folder under src/ may import only the modules its
// row allows (the way go-containerregistry checks its imports with depcheck), so the layering cannot
// drift silently. Tests (*.test.ts) may import anything.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('.', import.meta.url));

/**
 * Module (a folder, or a file at the root) → the core modules it may import (besides itself). `index.ts` at
 * the root may import any.
 * Beyond DESIGN.md: engine may import dockerfile (pure), to record ONBUILD triggers as text and to run
 * a base image's triggers, which are Dockerfile text. `tar` (header encoding and parsing, no I/O) is
 * shared by the modules that write or read tar: layer, archive, runtime and engine. `fsutil` (the one
 * resolver of paths inside a root, the one atomic file write and directory fsync, the one concurrency
 * limiter) is a leaf like `tar`, used by store, layer, cache, runtime, registry, layout, archive, sbom and engine. lint may import
 * dockerfile (pure) to read the spellings the IR normalises away (keyword case, `ENV key value`). cache
 * may import ir (pure) for `looksSecret`, so a miss explanation hides the values lint calls secret, and
 * registry and image for the remote cache (--cache-to/--cache-from push and pull cache manifests).
 * bake may import ir (pure) and layer for the one `.dockerignore` matcher and COPY glob, to tell which
 * targets read a changed file (`--changed-since`).
 */
const allowed: Record<string, readonly string[]> = {
  errors: [],
  events: [],
  oci: ['errors'],
  tar: [],
  fsutil: ['errors'],
  ir: ['errors', 'oci'],
  image: ['oci', 'errors'],
  store: ['fsutil', 'oci', 'errors'],
  dsl: ['ir', 'oci', 'errors'],
  dockerfile: ['ir', 'oci', 'errors'],
  lint: ['ir', 'dockerfile', 'oci', 'errors'],
  registry: ['fsutil', 'image', 'oci', 'errors', 'events'],
  layout: ['fsutil', 'image', 'oci', 'errors', 'events'],
  archive: ['tar', 'fsutil', 'image', 'oci', 'errors', 'events'],
  layer: ['tar', 'fsutil', 'image', 'store', 'oci', 'errors'],
  cache: ['store', 'fsutil', 'ir', 'image', 'registry', 'oci', 'errors'],
  runtime: ['layer', 'tar', 'fsutil', 'image', 'store', 'oci', 'errors'],
  export: ['layout', 'archive', 'registry', 'image', 'oci', 'fsutil', 'errors'],
  sbom: ['image', 'oci', 'tar', 'fsutil', 'errors'],
  sign: ['registry', 'layout', 'image', 'oci', 'sbom', 'fsutil', 'errors'],
  lock: ['ir', 'registry', 'fsutil', 'oci', 'events', 'errors'],
  engine: [
    'tar',
    'fsutil',
    'ir',
    'dockerfile',
    'image',
    'layer',
    'runtime',
    'cache',
    'store',
    'registry',
    'layout',
    'archive',
    'events',
    'oci',
    'errors',
  ],
  testing: ['image', 'oci', 'errors', 'store', 'layer'],
  bake: ['build', 'dsl', 'ir', 'layer', 'export', 'registry', 'fsutil', 'events', 'oci', 'errors'],
  build: [
    'dsl',
    'engine',
    'export',
    'image',
    'ir',
    'lock',
    'registry',
    'sbom',
    'sign',
    'store',
    'events',
    'oci',
    'errors',
  ],
};

/** Modules that must stay pure: no fs, no network, no child processes. */
const pure = ['dsl', 'ir', 'oci', 'tar', 'lint', 'dockerfile/parse', 'dockerfile/emit'];
const ioModules = /^node:(fs|fs\/promises|net|http|https|child_process|dgram|tls)$/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'testdata' ? [] : sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [
    ...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm),
  ].map((m) => m[1] ?? m[2] ?? '');
}

const moduleOf = (file: string) => relative(src, file).split('/')[0]?.replace(/\.ts$/, '') ?? '';

describe('module boundaries (DESIGN.md)', () => {
  const files = sourceFiles(src).filter((f) => relative(src, f) !== 'index.ts');
  const modules = new Set(files.map(moduleOf));

  it('every module has a row in the table', () => {
    expect([...modules].filter((m) => !(m in allowed))).toEqual([]);
  });

  it('the table names only modules that exist', () => {
    const named = Object.entries(allowed).flatMap(([module, imports]) => [module, ...imports]);
    expect([...new Set(named)].filter((m) => !modules.has(m))).toEqual([]);
  });

  it('each module imports only the modules its row allows', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = moduleOf(file);
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = moduleOf(join(file, '..', spec).replace(/\.js$/, '.ts'));
        if (target !== from && !allowed[from]?.includes(target)) {
          violations.push(`${relative(src, file)} imports ${target} (${spec})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('pure modules do no I/O', () => {
    const violations = files
      .filter((f) => pure.some((p) => relative(src, f).startsWith(`${p}/`)))
      .flatMap((f) =>
        importsOf(f)
          .filter((s) => ioModules.test(s))
          .map((s) => `${relative(src, f)} imports ${s}`),
      );
    expect(violations).toEqual([]);
  });
});
