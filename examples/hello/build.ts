// The smallest wharf build: an image FROM scratch with a static binary, some files and metadata.
// `wharf dockerfile examples/hello/build.ts` prints the Dockerfile; the image prints a greeting.
import { context, define, stage } from '@wharf/core';

const hello = stage('hello')
  .from('scratch')
  .workdir('/app')
  .copy('hello', '/usr/local/bin/hello', { chmod: '755' })
  .copy('static/', './static/')
  .env({ GREETING: 'Hello from wharf!', PATH: '/usr/local/bin' })
  .label({
    'org.opencontainers.image.title': 'hello',
    'org.opencontainers.image.description': 'The wharf hello example',
  })
  .user('1000:1000')
  .expose(8080)
  .cmd(['/usr/local/bin/hello']);

export default define({
  target: hello,
  context: context('.').ignore(['*.local', 'build.ts', 'make-hello.mjs', 'package.json']),
});
