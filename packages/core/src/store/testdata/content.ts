// Deterministic generated content for store tests (shared by the test and its child processes).

/** `count` chunks of `chunkSize` bytes; chunk i is filled with i's low byte and starts with i. */
export function* generatedChunks(count: number, chunkSize = 64 * 1024): Generator<Buffer> {
  for (let i = 0; i < count; i++) {
    const chunk = Buffer.alloc(chunkSize, i & 0xff);
    chunk.writeUInt32BE(i, 0);
    yield chunk;
  }
}
