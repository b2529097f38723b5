// A multi-line `run()` script that starts with `#!` is a script file, as `RUN <<EOF` with a shebang is in a
// Dockerfile: the direct backend writes it to /dev/pipes/EOF and runs it, so the shebang picks the
// interpreter and `$0` is the file (issue 15: the converted heredoc used to run as `sh -c` text on the
// direct backend). BuildKit 20.10 cannot parse heredocs, so its side builds what the current frontend
// makes of one (see heredoc.test.ts).
import { createHash } from 'node:crypto';
import { define, lowerDockerfile, stage, toGraph } from '@wharf/core';
import { describe, expect, it } from 'vitest';
import { buildBoth, trees } from '../helpers/differential.js';
import { noDocker, testEnv } from '../helpers/env.js';

const script = ['#!/bin/sh', 'echo "$0" > /out/zero', '[ -x "$0" ] && echo executable >> /out/zero', ''].join(
  '\n',
);

const asBuildKitRunsIt = `FROM scratch AS pipes
COPY --chmod=755 EOF /EOF
FROM busybox
RUN mkdir -m 777 /out
RUN --mount=type=bind,from=pipes,target=/dev/pipes /dev/pipes/EOF
`;

describe.skipIf(noDocker())('run() with a #! script matches BuildKit running RUN <<EOF', () => {
  it('runs the script as the file /dev/pipes/EOF', async () => {
    const target = stage().from('busybox').run('mkdir -m 777 /out').run(script, { asScript: true });
    const results = await buildBoth({
      name: 'dsl-shebang',
      graph: lowerDockerfile(asBuildKitRunsIt, { file: 'Dockerfile' }),
      directGraph: toGraph(define({ target })),
      // the heredoc's content is the script and the break ending its last line
      files: { EOF: `${script}\n` },
      registry: { mirrors: [testEnv().mirror.url] },
    });
    const all = trees(results);
    expect(all.direct).toEqual(all.buildkit);
    const sha = createHash('sha256').update('/dev/pipes/EOF\nexecutable\n').digest('hex').slice(0, 16);
    expect(all.direct.find((line) => line.startsWith('/out/zero '))).toContain(sha);
  });
});
