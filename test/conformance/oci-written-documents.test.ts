// Every document wharf writes passes the OCI image-spec JSON schemas (read in place from the peer suite
// oci-image-spec): layouts, appended layouts, extracted oci-archives, and what `wharf build -o type=oci`
// writes. The schema checker itself also fails broken documents.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOciArchive } from '../../packages/core/src/archive/index.js';
import { withConfig } from '../../packages/core/src/image/index.js';
import { appendImage, writeLayout } from '../../packages/core/src/layout/index.js';
import { checkLayoutDocuments, randomImage, schemaChecker } from '../../packages/core/src/testing/index.js';
import { wharfAsync } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { peerSuite } from './peer-suites.js';

const schemas = schemaChecker(AjvDraft04.default, peerSuite('oci-image-spec'));
const scratch = mkdtempSync(join(tmpdir(), 'wharf-conformance-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(scratch, `case-${n++}`);

describe('schemaChecker', () => {
  it('passes what wharf writes and fails broken documents', async () => {
    const img = await randomImage(1);
    expect(schemas.check('manifest', await img.rawManifest())).toEqual([]);
    expect(schemas.check('config', await img.rawConfig())).toEqual([]);
    expect(schemas.check('layout', '{"imageLayoutVersion":"1.0.0"}')).toEqual([]);
    expect(schemas.check('manifest', '{"schemaVersion":2}').join()).toMatch(/config/);
    expect(
      schemas
        .check(
          'config',
          '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Env":["NOVALUE"]}}',
        )
        .join(),
    ).toMatch(/KEY=VALUE/);
    expect(schemas.check('index', 'nope').join()).toMatch(/not JSON/);
  });
});

describe('documents wharf writes pass the OCI schemas', () => {
  it('writeLayout', async () => {
    const dir = fresh();
    await writeLayout(dir, { image: await randomImage(3, { files: 2, bytes: 5000 }), names: ['hello'] });
    const { problems, checked } = checkLayoutDocuments(schemas, dir);
    expect(problems).toEqual([]);
    expect(checked).toBe(4);
  });

  it('appendImage, twice', async () => {
    const dir = fresh();
    const base = await randomImage(1);
    await appendImage(dir, { image: withConfig(base, (c) => ({ ...c, Cmd: ['v1'] })), names: ['app:1'] });
    await appendImage(dir, { image: withConfig(base, (c) => ({ ...c, Cmd: ['v2'] })), names: ['app:2'] });
    expect(checkLayoutDocuments(schemas, dir).problems).toEqual([]);
  });

  it('writeOciArchive, extracted', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'x'), { recursive: true });
    await writeOciArchive(join(dir, 'a.tar'), { image: await randomImage(2), names: ['hello'] });
    execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', join(dir, 'x')]);
    const { problems, checked } = checkLayoutDocuments(schemas, join(dir, 'x'));
    expect(problems).toEqual([]);
    expect(checked).toBe(4);
  });

  it('wharf build -o type=oci (the hello example)', async () => {
    const dir = fresh();
    const hello = join(repoRoot, 'examples/hello/build.ts');
    const result = await wharfAsync([
      'build',
      '--progress',
      'quiet',
      hello,
      '-o',
      `type=oci,dest=${join(dir, 'layout')}`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const { problems, checked } = checkLayoutDocuments(schemas, join(dir, 'layout'));
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(4);
  });
});
