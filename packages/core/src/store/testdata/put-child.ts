// Child process for store.test.ts: puts the same generated blob `rounds` times into the store at
// `root` and prints the results as JSON. Bundled with esbuild by the test before it is run.
import { Readable } from 'node:stream';
import { openStore } from '../store.js';
import { generatedChunks } from './content.js';

const [root = '', chunksText = '0', roundsText = '1'] = process.argv.slice(2);
const store = await openStore({ root });
const results = [];
for (let round = 0; round < Number(roundsText); round++) {
  results.push(await store.put(Readable.from(generatedChunks(Number(chunksText)))));
}
process.stdout.write(JSON.stringify(results));
