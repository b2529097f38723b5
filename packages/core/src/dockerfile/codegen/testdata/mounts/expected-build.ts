// Converted from Dockerfile by `wharf convert`.

import { bind, cache, define, secret, ssh, stage, tmpfs } from '@wharf/core';

const deps = stage('deps')
  .from('golang:1.22')
  .run('go mod download', {
    mounts: [cache('/go/pkg/mod', { id: 'gomod', sharing: 'locked' }), bind('go.sum', { source: 'go.sum' })],
  });

const build = stage('build')
  .from(deps)
  .run('go build -o /out/app ./cmd/app', {
    mounts: [
      cache('/root/.cache/go-build'),
      secret('netrc', { target: '/root/.netrc', required: true }),
      ssh(),
    ],
  })
  .run(['/bin/true'], {
    mounts: [bind('/pkg', { source: '/go/pkg', from: deps }), tmpfs('/tmp', { size: 67108864 })],
    network: 'none',
  })
  .run('cat /run/secrets/token', { mounts: [secret('token', { target: '/run/secrets/token' })] });

export default define({ target: build });
