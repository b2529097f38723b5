// Converted from Dockerfile by `wharf convert`.

import { define, stage } from '@wharf/core';

const sA = stage('s-a')
  .from('busybox');

const sB = stage('s-b')
  .from('busybox');

const final = stage()
  .from(sA)
  .run('echo "$X"');

export default define({
  args: [['X', 'one'], ['X', `\${X}-two`], ['VARIANT', 'a']],
  target: final,
  targets: { 's-b': sB },
});
