// Copied into dist/bundle/ by bundle.mjs. Runs a bundle file esbuild wrote as CommonJS (core's body,
// the CLI's program) with V8's code cache: Node 20 keeps no compiled code for ES modules
// (`module.enableCompileCache()` came in Node 22.1), but a vm.Script takes a cache, `<file>.v8cache`,
// written at build time by a warm-up build (packages/cli/scripts/bundle.mjs). V8 checks a cache
// against its version, its flags and the source's length — the file names carry a hash of their
// content, so a cache never outlives its code — and compiles as usual when it does not fit.
import { createRequire } from 'node:module';

// Node's modules by require(): an ES import of one makes Node build its ES facade, reading every
// export (node:fs's lazy stream classes too).
const requireHere = createRequire(import.meta.url);
const { readFileSync, renameSync, writeFileSync } = requireHere('node:fs');
const { Script } = requireHere('node:vm');

/**
 * Runs `file` as the body of `function (exports, require, module, ...names of given)` with `require`
 * and the values of `given`; returns its exports. With WHARF_WRITE_CODE_CACHE=1 (build time only) the
 * code cache is written when the process exits, so it holds every function the run compiled.
 */
export function runScript(file, require, given) {
  if (process.sourceMapsEnabled) {
    // --enable-source-maps: Node maps traces of the modules it loads itself, not of a vm.Script, so
    // the file loads as the CommonJS module it is (no code cache). What it is given are globals then,
    // for good: its functions read them when called.
    Object.assign(globalThis, given);
    return require(file);
  }
  const cacheFile = `${file}.v8cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {}
  // The wrapper's first line is line 0 (lineOffset -1): positions in traces are the file's own.
  const script = new Script(
    `(function (exports, require, module, ${Object.keys(given).join(', ')}) {\n${readFileSync(file, 'utf8')}\n})`,
    { filename: file, lineOffset: -1, cachedData },
  );
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, ...Object.values(given));
  if (process.env.WHARF_WRITE_CODE_CACHE === '1') {
    process.once('exit', () => {
      const temp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(temp, script.createCachedData());
      renameSync(temp, cacheFile);
    });
  }
  return module.exports;
}
