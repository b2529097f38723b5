// Converted from Dockerfile by `wharf convert`.

import { sh, stage } from '@wharf/core';

const final = stage()
  .from('alpine:3.20')
  // Labels for the registry
  .label({
    'org.opencontainers.image.title': 'demo',
    'org.opencontainers.image.source': 'https://example.com/demo',
  })
  .maintainer('Jane <jane@example.com>')
  .env({ PATH: '/opt/bin:$PATH', LITERAL: '\\$HOME', QUOTE: "it's" })
  .arg('VERSION')
  .arg({ A: '1', B: undefined })
  .workdir('/srv/$VERSION')
  .add('https://example.com/tool', '/usr/local/bin/tool', {
    chmod: '755',
    checksum: 'sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d',
  })
  .copy(['docs/', 'src/'], '/srv/', { link: true, exclude: ['*.md'], parents: true })
  .volume('/data', '/cache')
  .expose(80, '53/udp')
  .stopsignal('SIGINT')
  .shell(['/bin/sh', '-eu', '-c'])
  .healthcheck(sh('wget -qO- http://localhost/ || exit 1'))
  .entrypoint(sh('/docker-entrypoint.sh "$@"'))
  .cmd(sh('echo "hello $USER"'));

export default final;
