// RUN heredocs whose body starts with `#!`: current BuildKit writes the body to /dev/pipes/<NAME> (mode
// 0755, on a read-only bind mount of a scratch directory) and runs that file, so the shebang picks the
// interpreter and `$0` is the file. BuildKit 20.10 (the one here) cannot parse heredocs, so its side
// builds what the current frontend makes of one — a `FROM scratch` stage holding the script, bound at
// /dev/pipes — and the direct backend builds the heredoc itself; trees and configs must match.
import { createHash } from 'node:crypto';
import { lowerDockerfile } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { buildBoth, trees } from '../helpers/differential.js';
import { noDocker, testEnv } from '../helpers/env.js';

const script = [
  '#!/bin/sh',
  'echo "$0" > "$OUT/zero"',
  '[ -x "$0" ] && echo executable >> "$OUT/zero"',
  'id -un >> "$OUT/zero"',
  'touch "$0" 2>/dev/null || echo read-only >> "$OUT/zero"',
  '',
].join('\n');

/** What BuildKit's current Dockerfile frontend turns `RUN <<EOF` (with a shebang) into, in 20.10's syntax. */
const asBuildKitRunsIt = (user: string) => `FROM scratch AS pipes
COPY --chmod=755 EOF /EOF
FROM busybox
RUN mkdir -m 777 /out
ENV OUT=/out
USER ${user}
RUN --mount=type=bind,from=pipes,target=/dev/pipes /dev/pipes/EOF
`;

const heredoc = (user: string) => `FROM busybox
RUN mkdir -m 777 /out
ENV OUT=/out
USER ${user}
RUN <<EOF
${script}EOF
`;

describe.skipIf(noDocker())('RUN <<EOF with a shebang matches BuildKit', () => {
  it.each(['root', 'app'])(
    'runs the body as the script file /dev/pipes/EOF (as %s), leaving nothing in /dev',
    async (user) => {
      const results = await buildBoth({
        name: `heredoc-shebang-${user}`,
        graph: lowerDockerfile(asBuildKitRunsIt(user), { file: 'Dockerfile' }),
        directGraph: lowerDockerfile(heredoc(user), { file: 'Dockerfile' }),
        files: { EOF: script },
        registry: { mirrors: [testEnv().mirror.url] },
      });
      const all = trees(results);
      expect(all.direct).toEqual(all.buildkit);
      expect(results.direct.config).toEqual(results.buildkit.config);
      // $0 is the file, which is executable and read-only, run as the stage's user
      const said = `/dev/pipes/EOF\nexecutable\n${user}\nread-only\n`;
      const sha = createHash('sha256').update(said).digest('hex').slice(0, 16);
      expect(all.direct.find((line) => line.startsWith('/out/zero '))).toContain(sha);
      expect(all.direct.filter((line) => line.startsWith('/dev/'))).toEqual([]);
    },
  );
});
