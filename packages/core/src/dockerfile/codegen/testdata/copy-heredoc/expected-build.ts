// Converted from Dockerfile by `wharf convert`.

import { heredoc, stage } from '@wharf/core';

const final = stage()
  .from('alpine')
  .copy(heredoc('EOF', 'hello\n', { expand: true }), '/etc/motd');

export default final;
