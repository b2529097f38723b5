// --platform linux/arm64 on an amd64 machine, FROM a two-platform base (busybox:multi): a stage
// `FROM --platform=$BUILDPLATFORM` runs natively (uname -m says x86_64, as in BuildKit), the other
// stage runs emulated (aarch64), TARGET*/BUILD* ARGs follow BuildKit's scoping, COPY --from between
// them — files and config equal BuildKit's `docker build --platform linux/arm64`.
import { createHash } from 'node:crypto';
import { lowerDockerfile } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { buildBoth, buildPlatformDockerfile, trees } from '../helpers/differential.js';
import { noDocker, testEnv } from '../helpers/env.js';

const dockerfile = buildPlatformDockerfile(`FROM $BASE
ARG TARGETARCH
COPY --from=tools /tools-note /tools-note
RUN uname -m > /arch && echo "arch=$TARGETARCH unset=[$BUILDPLATFORM]" >> /arch
`);

describe.skipIf(noDocker())('--platform linux/arm64 with a $BUILDPLATFORM stage matches BuildKit', () => {
  it('native build stage, emulated target stage, the same files and config', async () => {
    const results = await buildBoth({
      name: 'platform-arm64',
      graph: lowerDockerfile(dockerfile, { file: 'Dockerfile' }),
      files: {},
      platform: 'linux/arm64',
      registry: { mirrors: [testEnv().mirror.url] },
    });
    const { buildkit, direct } = trees(results);
    expect(direct).toEqual(buildkit);
    expect(results.direct.config).toEqual(results.buildkit.config);
    expect(results.direct.config.architecture).toBe('arm64');
    const digest = (text: string) => createHash('sha256').update(text).digest('hex');
    const sha = (path: string) => results.direct.tree.get(path)?.sha256;
    expect(sha('/tools-note')).toBe(digest('x86_64 for arm64 linux/arm64 on linux/amd64\n'));
    expect(sha('/arch')).toBe(digest('aarch64\narch=arm64 unset=[]\n'));
  });
});
