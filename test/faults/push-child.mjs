// Child process for kill-and-resume: pushes the image in an OCI layout with file-backed upload sessions
// and prints every registry event as one JSON line, so the parent can SIGKILL it mid-blob.
// Usage: node push-child.mjs LAYOUT_DIR REF SESSIONS_DIR CHUNK_BYTES
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(`${repo}packages/cli/package.json`);
const { createJiti } = await import(require.resolve('jiti'));
const jiti = createJiti(import.meta.url);
const registry = await jiti.import(`${repo}packages/core/src/registry/index.ts`);
const layout = await jiti.import(`${repo}packages/core/src/layout/index.ts`);

const [layoutDir, ref, sessionsDir, chunk] = process.argv.slice(2);
const image = await layout.readLayout(layoutDir);
const result = await registry.pushImage(image, ref, {
  sessions: registry.fileUploadSessions(sessionsDir),
  chunkSize: Number(chunk),
  concurrency: 1,
  onEvent: (event) => process.stdout.write(`${JSON.stringify(event)}\n`),
});
process.stdout.write(`${JSON.stringify({ type: 'done', digest: result.digest })}\n`);
