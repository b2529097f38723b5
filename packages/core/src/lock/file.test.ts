import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emitDockerfile } from '../dockerfile/emit/index.js';
import { lowerDockerfile } from '../dockerfile/lower/index.js';
import { lintDockerfile } from '../lint/index.js';
import type { Digest } from '../oci/index.js';
import { formatLock, isLocked, type LockFile, lockKey, parseLock, readLock } from './file.js';
import { baseReferences, pinGraph } from './graph.js';

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('lockKey', () => {
  it.each([
    ['alpine', 'alpine:latest'],
    ['alpine:latest', 'alpine:latest'],
    ['docker.io/library/node:20', 'node:20'],
    ['ghcr.io/org/base:1', 'ghcr.io/org/base:1'],
    ['127.0.0.1:5000/base/tool', '127.0.0.1:5000/base/tool:latest'],
  ])('%s → %s', (ref, key) => {
    expect(lockKey(ref)).toBe(key);
  });

  it('a reference pinned by digest has no key (nothing to lock)', () => {
    expect(lockKey(`alpine:3.20@${d('a')}`)).toBeUndefined();
  });
});

describe('the lock file', () => {
  const lock: LockFile = {
    version: 1,
    images: {
      'node:20': { digest: d('b'), mediaType: MANIFEST },
      'alpine:3.20': {
        digest: d('a'),
        mediaType: INDEX,
        platforms: { 'linux/arm64/v8': d('c'), 'linux/amd64': d('e') },
      },
    },
  };

  it('is sorted, indented JSON with a final newline: the same lock is the same bytes', () => {
    const text = formatLock(lock);
    expect(text).toBe(
      [
        '{',
        '  "version": 1,',
        '  "images": {',
        '    "alpine:3.20": {',
        `      "digest": "${d('a')}",`,
        `      "mediaType": "${INDEX}",`,
        '      "platforms": {',
        `        "linux/amd64": "${d('e')}",`,
        `        "linux/arm64/v8": "${d('c')}"`,
        '      }',
        '    },',
        '    "node:20": {',
        `      "digest": "${d('b')}",`,
        `      "mediaType": "${MANIFEST}"`,
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    expect(formatLock(parseLock(text))).toBe(text);
  });

  it.each([
    ['not JSON', '{', /wharf\.lock: not JSON/],
    ['another version', '{"version":2,"images":{}}', /unknown version 2/],
    ['no images', '{"version":1}', /"images" must be an object/],
    [
      'a key not written as its lock key',
      `{"version":1,"images":{"docker.io/library/alpine":{"digest":"${d('a')}","mediaType":"x"}}}`,
      /"docker\.io\/library\/alpine" should be written "alpine:latest"/,
    ],
    [
      'a bad digest',
      '{"version":1,"images":{"alpine:1":{"digest":"sha256:zz","mediaType":"x"}}}',
      /"alpine:1"\.digest is not a digest/,
    ],
    [
      'a bad platform digest',
      `{"version":1,"images":{"alpine:1":{"digest":"${d('a')}","mediaType":"x","platforms":{"linux/amd64":1}}}}`,
      /"alpine:1"\.platforms\["linux\/amd64"\] is not a digest/,
    ],
  ])('refuses %s, naming the entry and the fix', (_, text, message) => {
    let error: { code?: string; message: string; hint?: string } | undefined;
    try {
      parseLock(text);
    } catch (e) {
      error = e as typeof error;
    }
    expect(error?.code).toBe('LOCK_INVALID');
    expect(error?.message).toMatch(message);
    expect(error?.hint).toMatch(/run wharf lock/);
  });

  it('readLock: undefined without a file; a file too large is refused before parsing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-lock-'));
    expect(await readLock(dir)).toBeUndefined();
    writeFileSync(join(dir, 'wharf.lock'), formatLock(lock));
    expect(await readLock(dir)).toEqual(parseLock(formatLock(lock)));
    writeFileSync(join(dir, 'wharf.lock'), ' '.repeat(1024 * 1024 + 1));
    await expect(readLock(dir)).rejects.toThrow(/larger than 1048576 bytes/);
  });
});

describe('a graph and its lock', () => {
  const dockerfile = [
    'ARG BASE=node:20',
    'FROM ${BASE} AS deps',
    'RUN --mount=type=bind,from=ghcr.io/org/tools:1,target=/t true',
    'FROM alpine AS app',
    'COPY --from=deps /a /a',
    'COPY --from=busybox:1.36 /bin/busybox /bin/',
    `FROM alpine@${d('f')} AS pinned`,
    'FROM scratch',
    'COPY --from=app / /',
    '',
  ].join('\n');
  const graph = lowerDockerfile(dockerfile);

  it('baseReferences: every image the build pulls, once, expanded; pinned ones and stages left out', () => {
    expect(baseReferences(graph).map((r) => r.key)).toEqual([
      'node:20',
      'ghcr.io/org/tools:1',
      'alpine:latest',
      'busybox:1.36',
    ]);
    expect(baseReferences(graph, { buildArgs: { BASE: 'node:22' } })[0]).toEqual({
      ref: 'node:22',
      key: 'node:22',
    });
    expect(baseReferences(graph, { buildContexts: { 'busybox:1.36': 'docker-image://x' } })).toHaveLength(3);
  });

  it('pinGraph: locked references become key@digest (the index digest), the rest are reported missing', () => {
    const lock: LockFile = {
      version: 1,
      images: {
        'node:20': { digest: d('1'), mediaType: INDEX, platforms: { 'linux/amd64': d('2') } },
        'alpine:latest': { digest: d('3'), mediaType: MANIFEST },
        'busybox:1.36': { digest: d('4'), mediaType: MANIFEST },
      },
    };
    const pinned = pinGraph(graph, lock);
    expect(pinned.missing.map((r) => r.key)).toEqual(['ghcr.io/org/tools:1']);
    expect(pinned.pinned.map((p) => p.pinned)).toEqual([
      `node:20@${d('1')}`,
      `alpine:latest@${d('3')}`,
      `busybox:1.36@${d('4')}`,
    ]);
    const text = emitDockerfile(pinned.graph).dockerfile;
    expect(text).toContain(`FROM node:20@${d('1')} AS deps`);
    expect(text).toContain(`FROM alpine:latest@${d('3')} AS app`);
    expect(text).toContain(`COPY --from=busybox:1.36@${d('4')} /bin/busybox /bin/`);
    expect(text).toContain(`FROM alpine@${d('f')} AS pinned`);
    expect(text).not.toContain(d('2')); // never a platform's digest
    // the graph it was given is unchanged
    expect(emitDockerfile(graph).dockerfile).not.toContain(d('1'));
  });
});

describe('lint: BaseNotPinnedByDigest accepts a base pinned in wharf.lock', () => {
  it('reports the tag without a lock and not with one', () => {
    const lock: LockFile = { version: 1, images: { 'alpine:3.20': { digest: d('a'), mediaType: MANIFEST } } };
    const rule = (pinned?: (ref: string) => boolean) =>
      lintDockerfile('FROM docker.io/library/alpine:3.20\nFROM node:20\n', pinned ? { pinned } : {})
        .filter((f) => f.rule === 'BaseNotPinnedByDigest')
        .map((f) => [f.line, f.fix]);
    expect(rule()).toEqual([
      [
        1,
        'run wharf lock (pins it in wharf.lock), or write FROM docker.io/library/alpine:3.20@sha256:<digest>',
      ],
      [2, 'run wharf lock (pins it in wharf.lock), or write FROM node:20@sha256:<digest>'],
    ]);
    expect(rule((ref) => isLocked(lock, ref)).map(([line]) => line)).toEqual([2]);
  });
});
