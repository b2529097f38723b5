// Converted from Dockerfile by `wharf convert`.

import { stage } from '@wharf/core';

const final = stage()
  .from('scratch')
  .copy('hello', '/hello')
  .cmd(['/hello']);

export default final;
