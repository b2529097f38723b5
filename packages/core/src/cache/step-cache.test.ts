import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StepCache, type StepInputs, stepKey } from './step-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'wharf-step-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const digest = (n: number) => n.toString(16).padStart(64, '0');
/** A COPY's files: many, with names that could confuse a line format. */
function copyInputs(changed?: string): StepInputs {
  const files = Object.create(null) as Record<string, string>;
  for (let i = 0; i < 3000; i++)
    files[`node_modules/p${i}/index.js`] = `file:644:0:0:/app/p${i}:${digest(i)}`;
  files['odd\nname\twith 12 spaces'] = `file:644:0:0:/app/odd:${digest(1)}`;
  // a file named like the prototype accessor is a file like any other (own property, no prototype)
  Object.defineProperty(files, '__proto__', {
    value: `file:644:0:0:/app/__proto__:${digest(2)}`,
    enumerable: true,
    writable: true,
  });
  files['/app'] = 'dir:755:0:0';
  if (changed) files[changed] = `file:644:0:0:/app/${changed}:${digest(99999)}`;
  return {
    parent: 'p',
    parentIsBase: false,
    config: '{}',
    args: ['A=1'],
    instruction: 'COPY . /app',
    files,
    epoch: 0,
  };
}

describe('stepKey', () => {
  it('does not depend on the order of the files, and changes with any name or value', () => {
    const inputs = copyInputs();
    const reversed = Object.fromEntries(Object.entries(inputs.files).reverse());
    expect(stepKey({ ...inputs, files: reversed })).toBe(stepKey(inputs));
    expect(stepKey(copyInputs('node_modules/p7/index.js'))).not.toBe(stepKey(inputs));
    // a name and a value that would run together in a plain `name value` line
    const a = stepKey({ ...inputs, files: { 'a b': 'c' } });
    expect(stepKey({ ...inputs, files: { a: 'b c' } })).not.toBe(a);
    // JSON.parse makes `__proto__` an own property (as a file name in a parsed record is)
    const withProto = { ...inputs, files: JSON.parse('{"__proto__":"x"}') as Record<string, string> };
    expect(stepKey(withProto)).not.toBe(stepKey({ ...inputs, files: {} }));
  });
});

/** A cache under `name` whose position `slot` remembers `inputs`, and that position's record file. */
async function remembered(name: string, inputs: StepInputs): Promise<{ cache: StepCache; file: string }> {
  const root = join(dir, name);
  const cache = new StepCache(root);
  await cache.remember('slot', stepKey(inputs), inputs);
  const [record] = readdirSync(join(root, 'slots'));
  return { cache, file: join(root, 'slots', record as string) };
}

describe('StepCache positions', () => {
  it('explains a miss by the file that changed, also for odd names, from its compact record', async () => {
    const cache = new StepCache(join(dir, 'explain'));
    const before = copyInputs();
    await cache.remember('ctx\0app\x001', stepKey(before), before);
    const after = copyInputs('odd\nname\twith 12 spaces');
    expect(await cache.explain('ctx\0app\x001', after)).toBe(
      'context file odd\nname\twith 12 spaces changed (copied to /app/odd\nname\twith 12 spaces)',
    );
    const proto = copyInputs();
    const files = Object.assign(
      Object.create(null),
      proto.files,
      JSON.parse(`{"__proto__":"file:644:0:0:/app/__proto__:${digest(3)}"}`),
    );
    expect(await cache.explain('ctx\0app\x001', { ...proto, files })).toBe(
      'context file __proto__ changed (copied to /app/__proto__)',
    );
    expect(await cache.explain('elsewhere', after)).toBeUndefined();
  });

  it('does not rewrite the record of a position on a hit with the key it holds', async () => {
    const inputs = copyInputs();
    const { cache, file } = await remembered('hit', inputs);
    const first = statSync(file).ino;
    await cache.remember('slot', stepKey(inputs), inputs);
    expect(statSync(file).ino).toBe(first);
    const changed = copyInputs('new.js');
    await cache.remember('slot', stepKey(changed), changed);
    expect(statSync(file).ino).not.toBe(first);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toBe(`wharf step position v2 ${stepKey(changed)}`);
  });

  it('treats a torn or foreign record as no history', async () => {
    const inputs = copyInputs();
    const { cache, file } = await remembered('torn', inputs);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length - 20));
    expect(await cache.explain('slot', inputs)).toBeUndefined();
    writeFileSync(file, JSON.stringify(inputs));
    expect(await cache.explain('slot', inputs)).toBeUndefined();
  });

  it('keeps a replay record beside a position, used only while the position holds its key', async () => {
    const cache = new StepCache(mkdtempSync(join(dir, 'replay-')));
    const inputs = copyInputs();
    const key = stepKey(inputs);
    expect(await cache.replayAt('slot')).toBeUndefined();
    await cache.remember('slot', key, inputs);
    await cache.rememberReplay('slot', { chain: digest(6), condition: digest(7), key }, ['la\0', 'db\nc\0']);
    expect(await cache.replayAt('slot')).toEqual({
      chain: digest(6),
      condition: digest(7),
      key,
      body: 'la\0db\nc\0',
    });
    expect(await cache.replayAt('other slot')).toBeUndefined();
    // another build at this position, without a replay record: this one is stale
    const changed = copyInputs('new.js');
    await cache.remember('slot', stepKey(changed), changed);
    expect(await cache.replayAt('slot')).toBeUndefined();
  });
});
