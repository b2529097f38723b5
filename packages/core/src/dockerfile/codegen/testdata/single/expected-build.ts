// Converted from Dockerfile by `wharf convert`.

import { stage } from '@wharf/core';

const stage0 = stage()
  .from('scratch')
  .copy('hello', '/hello')
  .cmd(['/hello']);

export default stage0;
