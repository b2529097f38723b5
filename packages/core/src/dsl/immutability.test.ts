import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WharfError } from '../errors.js';
import { toGraph } from './graph.js';
import { cache } from './mounts.js';
import { type Stage, stage } from './stage.js';
import { sh } from './values.js';

/** One DSL call, as data, so fast-check can generate and shrink sequences of them. */
const text = fc.string({ minLength: 1, maxLength: 12 });
const step: fc.Arbitrary<(s: Stage) => Stage> = fc.oneof(
  text.map((t) => (s: Stage) => s.run(`echo ${t}`)),
  fc
    .array(text, { minLength: 1, maxLength: 3 })
    .map((argv) => (s: Stage) => s.run(argv, { mounts: [cache('/c')] })),
  fc.tuple(text, text).map(
    ([a, b]) =>
      (s: Stage) =>
        s.copy([a], `/dst/${b}/`),
  ),
  text.map((t) => (s: Stage) => s.workdir(`/w/${t}`)),
  fc.tuple(fc.constantFrom('A', 'B_1', 'PATH'), text).map(
    ([k, v]) =>
      (s: Stage) =>
        s.env({ [k]: v }),
  ),
  fc.integer({ min: 1, max: 65535 }).map((p) => (s: Stage) => s.expose(p)),
  text.map((t) => (s: Stage) => s.label({ [`l.${t}`]: t })),
  fc.array(text, { maxLength: 3 }).map((argv) => (s: Stage) => s.cmd(argv)),
  text.map((t) => (s: Stage) => s.entrypoint(sh(t))),
  fc.constantFrom('node', '1000', '1000:1000').map((u) => (s: Stage) => s.user(u)),
  text.map((t) => (s: Stage) => s.onbuild((o) => o.run(t))),
  fc.constantFrom('x', 'y').map((n) => (s: Stage) => s.as(n)),
);
const steps = fc.array(step, { maxLength: 8 });

const apply = (s: Stage, fns: readonly ((s: Stage) => Stage)[]) => fns.reduce((acc, fn) => fn(acc), s);
/**
 * The IR without call-site locations (replays run from other lines); a refused value (`as('y')` back to
 * the name of the stage it starts from) dumps as its error code, which must be just as stable.
 */
const dump = (s: Stage) => {
  try {
    return JSON.stringify(toGraph(s), (k, v) => (k === 'source' ? undefined : v));
  } catch (error) {
    if (error instanceof WharfError && error.code === 'DSL_DUPLICATE_STAGE') return error.code;
    throw error;
  }
};

describe('stage values are immutable', () => {
  it('branching twice from a base never changes the base, and each branch sees only its own calls', () => {
    fc.assert(
      fc.property(steps, steps, steps, (prefix, left, right) => {
        const base = apply(stage('base').from('alpine:3.20'), prefix);
        const before = dump(base);
        const a = apply(base, left);
        const b = apply(base, right);
        expect(dump(base)).toBe(before);
        // Each branch equals the same calls replayed from scratch: nothing leaked between branches.
        expect(dump(a)).toBe(dump(apply(apply(stage('base').from('alpine:3.20'), prefix), left)));
        expect(dump(b)).toBe(dump(apply(apply(stage('base').from('alpine:3.20'), prefix), right)));
      }),
      { numRuns: 200 },
    );
  });

  it('the IR of a value is stable: toGraph twice gives equal, JSON-round-trippable data', () => {
    fc.assert(
      fc.property(steps, (fns) => {
        const value = apply(stage().from('scratch'), fns);
        if (dump(value) === 'DSL_DUPLICATE_STAGE') return; // refused, and refused the same way each time
        const first = toGraph(value);
        expect(toGraph(value)).toEqual(first);
        expect(JSON.parse(JSON.stringify(first))).toEqual(first);
      }),
      { numRuns: 200 },
    );
  });
});
