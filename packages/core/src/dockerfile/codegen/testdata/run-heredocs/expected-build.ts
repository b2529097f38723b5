// Converted from Dockerfile by `wharf convert`.

import { stage } from '@wharf/core';

const final = stage()
  .from('debian:bookworm')
  .run(`
    set -e
    apt-get update
    apt-get install -y curl
  `, { asScript: true })
  .run(`
    python3 <<'PY' > /out.txt
    print("hi")
    PY
  `)
  .run(`
    #!/usr/bin/env python3
    print("script")
  `)
  .run(`  set -e
  echo "indented body, kept as written"`, { asScript: true });

export default final;
