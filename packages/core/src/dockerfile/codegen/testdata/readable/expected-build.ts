// Converted from Dockerfile by `wharf convert`.
// Copyright 2024 Example Authors.
// Licensed under the Apache License, Version 2.0.

import { bind, define, stage } from '@wharf/core';

const base = stage('base')
  .from('debian:bookworm')
  .env({ A: '1', B: 'two words', C: `\${A}x` })
  .run(`
    apt-get update \\
        && \\
    apt-get install -y --no-install-recommends ca-certificates curl git \\
        && \\
    rm -rf /var/lib/apt/lists/*
  `)
  .run(`
    set -ex && \\
        echo one two three four five six seven eight nine ten && \\
        echo eleven twelve thirteen fourteen fifteen
  `);

// the unit tests: `docker build --target test`
const test = stage('test')
  .from(base)
  .run('echo test');

const lint = stage('lint')
  .from(base)
  .run('echo lint')
  .run(`
    set -eux; \\
    	addgroup app; \\
    	adduser -D -G app app
  `);

const final = stage()
  .from(base)
  .workdir('/app')
  .copy(['a', 'b'], '.')
  .copy('c', './', { chown: ':staff' })
  .run('cat ./result', { mounts: [bind('.', { from: test })] });

export default define({ target: final, targets: { lint } });
