// Converted from Dockerfile by `wharf convert`.

import { stage } from '@wharf/core';

const base = stage('base')
  .from('node:20')
  .onbuild((trigger) => trigger.copy('package.json', './'))
  .onbuild((trigger) => trigger.run('npm ci'))
  // copy the rest
  .onbuild((trigger) => trigger.copy('.', '.'));

export default base;
