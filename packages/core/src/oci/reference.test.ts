import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OciError } from './errors.js';
import { familiarName, formatReference, parseReference, type Reference } from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference: normalisation', () => {
  it.each([
    // input, registry, repository, tag, digest, full form, familiar form
    ['node', 'docker.io', 'library/node', 'latest', undefined, 'docker.io/library/node:latest', 'node'],
    [
      'node:20-alpine',
      'docker.io',
      'library/node',
      '20-alpine',
      undefined,
      'docker.io/library/node:20-alpine',
      'node:20-alpine',
    ],
    ['user/repo', 'docker.io', 'user/repo', 'latest', undefined, 'docker.io/user/repo:latest', 'user/repo'],
    ['user/repo:v1', 'docker.io', 'user/repo', 'v1', undefined, 'docker.io/user/repo:v1', 'user/repo:v1'],
    [
      'docker.io/node',
      'docker.io',
      'library/node',
      'latest',
      undefined,
      'docker.io/library/node:latest',
      'node',
    ],
    [
      'docker.io/library/node',
      'docker.io',
      'library/node',
      'latest',
      undefined,
      'docker.io/library/node:latest',
      'node',
    ],
    [
      'index.docker.io/user/repo',
      'docker.io',
      'user/repo',
      'latest',
      undefined,
      'docker.io/user/repo:latest',
      'user/repo',
    ],
    [
      'library/a/b',
      'docker.io',
      'library/a/b',
      'latest',
      undefined,
      'docker.io/library/a/b:latest',
      'library/a/b',
    ],
    [
      'ghcr.io/org/app:1.0',
      'ghcr.io',
      'org/app',
      '1.0',
      undefined,
      'ghcr.io/org/app:1.0',
      'ghcr.io/org/app:1.0',
    ],
    ['localhost/x', 'localhost', 'x', 'latest', undefined, 'localhost/x:latest', 'localhost/x'],
    ['localhost:5000/x:y', 'localhost:5000', 'x', 'y', undefined, 'localhost:5000/x:y', 'localhost:5000/x:y'],
    [
      'host:5000/a/b/c:tag',
      'host:5000',
      'a/b/c',
      'tag',
      undefined,
      'host:5000/a/b/c:tag',
      'host:5000/a/b/c:tag',
    ],
    [
      '127.0.0.1:5000/repo',
      '127.0.0.1:5000',
      'repo',
      'latest',
      undefined,
      '127.0.0.1:5000/repo:latest',
      '127.0.0.1:5000/repo',
    ],
    ['[::1]:5000/repo:t', '[::1]:5000', 'repo', 't', undefined, '[::1]:5000/repo:t', '[::1]:5000/repo:t'],
    [
      '[2001:db8::1]/repo',
      '[2001:db8::1]',
      'repo',
      'latest',
      undefined,
      '[2001:db8::1]/repo:latest',
      '[2001:db8::1]/repo',
    ],
    [
      'Example.COM/repo',
      'Example.COM',
      'repo',
      'latest',
      undefined,
      'Example.COM/repo:latest',
      'Example.COM/repo',
    ],
    [`node@${D}`, 'docker.io', 'library/node', undefined, D, `docker.io/library/node@${D}`, `node@${D}`],
    [`node:20@${D}`, 'docker.io', 'library/node', '20', D, `docker.io/library/node:20@${D}`, `node:20@${D}`],
    [
      `node:latest@${D}`,
      'docker.io',
      'library/node',
      'latest',
      D,
      `docker.io/library/node:latest@${D}`,
      `node:latest@${D}`,
    ],
    [
      `localhost:5000/r@${D}`,
      'localhost:5000',
      'r',
      undefined,
      D,
      `localhost:5000/r@${D}`,
      `localhost:5000/r@${D}`,
    ],
    [
      'a.b/c__d/e-f/g--h/i_j/k.l',
      'a.b',
      'c__d/e-f/g--h/i_j/k.l',
      'latest',
      undefined,
      'a.b/c__d/e-f/g--h/i_j/k.l:latest',
      'a.b/c__d/e-f/g--h/i_j/k.l',
    ],
    [
      'docker.io/my.org/repo',
      'docker.io',
      'my.org/repo',
      'latest',
      undefined,
      'docker.io/my.org/repo:latest',
      'docker.io/my.org/repo',
    ],
    [
      'docker.io/localhost/repo',
      'docker.io',
      'localhost/repo',
      'latest',
      undefined,
      'docker.io/localhost/repo:latest',
      'docker.io/localhost/repo',
    ],
    [
      'localhost:5000',
      'docker.io',
      'library/localhost',
      '5000',
      undefined,
      'docker.io/library/localhost:5000',
      'localhost:5000',
    ],
    [
      'node:A_b.c-D',
      'docker.io',
      'library/node',
      'A_b.c-D',
      undefined,
      'docker.io/library/node:A_b.c-D',
      'node:A_b.c-D',
    ],
  ])('%s', (input, registry, repository, tag, digest, full, familiar) => {
    const ref = parseReference(input);
    expect({ registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest }).toEqual({
      registry,
      repository,
      tag,
      digest,
    });
    expect(ref.toString()).toBe(full);
    expect(String(ref)).toBe(full);
    expect(ref.familiarName()).toBe(familiar);
    expect(familiarName(ref)).toBe(familiar);
    expect(parseReference(familiar)).toEqual(ref);
    expect(parseReference(full)).toEqual(ref);
  });

  it('exposes the name and formats plain objects', () => {
    const ref = parseReference('ghcr.io/org/app:1');
    expect(ref.name).toBe('ghcr.io/org/app');
    expect(
      formatReference({ registry: 'ghcr.io', repository: 'a/b', digest: ref.withDigest(D as never).digest }),
    ).toBe(`ghcr.io/a/b@${D}`);
    expect(JSON.stringify({ ref })).toBe('{"ref":"ghcr.io/org/app:1"}');
  });

  it('withTag and withDigest return new references', () => {
    const base = parseReference('node:20');
    const pinned = base.withDigest(parseReference(`x@${D}`).digest ?? expect.unreachable());
    expect(pinned.toString()).toBe(`docker.io/library/node:20@${D}`);
    expect(base.withTag('22').toString()).toBe('docker.io/library/node:22');
    expect(base.toString()).toBe('docker.io/library/node:20');
    expect(() => base.withTag('-bad')).toThrow(OciError);
  });
});

describe('parseReference: errors name the input and the fix', () => {
  it.each([
    ['', /it is empty/, /name an image/],
    [' node', /whitespace/, /"node"/],
    ['Node', /repository name "library\/Node" must be lowercase/, /use "node"/],
    ['User/Repo:Tag', /must be lowercase/, /use "user\/repo:Tag"/],
    ['ghcr.io/Org/app', /must be lowercase/, /use "ghcr.io\/org\/app"/],
    ['node:', /tag after ":" is empty/, /up to 128 characters/],
    ['node:-x', /invalid tag "-x"/, /not starting with/],
    [`node:${'a'.repeat(129)}`, /invalid tag/, /up to 128 characters/],
    ['node@sha256:abc', /invalid digest "sha256:abc"/, /64 lowercase hex/],
    [`node@md5:${'a'.repeat(32)}`, /invalid digest/, /sha256 and sha512/],
    [`node@sha256:${'A'.repeat(64)}`, /invalid digest/, /lowercase/],
    ['a'.repeat(64), /image ID, not a repository name/, /@sha256:/],
    [':tag', /repository name is missing/, /<repository>/],
    [`@sha256:${'a'.repeat(64)}`, /repository name is missing/, /<repository>/],
    ['-host.com/repo', /invalid registry "-host.com"/, /host name or IP/],
    ['host.com/-repo', /invalid repository path component "-repo"/, /path components/],
    ['host.com/a//b', /empty path component/, /path components/],
    ['host.com/a/', /empty path component/, /path components/],
    ['repo...x', /invalid repository path component/, /path components/],
    ['a/b_-c', /invalid repository path component "b_-c"/, /path components/],
    [`host.com/${'a'.repeat(250)}`, /the name is 259 characters long/, /at most 255/],
  ])('%j', (input, message, hint) => {
    try {
      parseReference(input);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(OciError);
      const e = error as OciError;
      expect(e.code).toBe('OCI_INVALID_REFERENCE');
      expect(e.message).toContain(JSON.stringify(input));
      expect(e.message).toMatch(message);
      expect(e.hint).toMatch(hint);
    }
  });

  it('accepts names up to 255 characters', () => {
    expect(parseReference(`host.com/${'a'.repeat(246)}`).name).toHaveLength(255);
  });
});

describe('properties', () => {
  const component = fc
    .stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/, { maxLength: 20 })
    .filter((s) => s.length > 0);
  const registry = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(
      'docker.io',
      'index.docker.io',
      'ghcr.io',
      'localhost',
      'localhost:5000',
      '127.0.0.1:5000',
      '[::1]:443',
    ),
  );
  const tag = fc.option(fc.stringMatching(/^\w[\w.-]{0,20}$/), { nil: undefined });
  const digest = fc.option(
    fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`),
    { nil: undefined },
  );

  it('familiarName and toString both parse back to the same reference', () => {
    fc.assert(
      fc.property(
        registry,
        fc.array(component, { minLength: 1, maxLength: 3 }),
        tag,
        digest,
        (reg, path, t, d) => {
          // Without a registry, a dotted first component would be read as one (Docker's rule too).
          fc.pre(reg !== undefined || path.length === 1 || !path[0]?.includes('.'));
          const text = `${reg ? `${reg}/` : ''}${path.join('/')}${t ? `:${t}` : ''}${d ? `@${d}` : ''}`;
          let ref: Reference;
          try {
            ref = parseReference(text);
          } catch (error) {
            // Only a bare 64-hex name (an image ID) may be rejected.
            expect((error as OciError).message).toMatch(/image ID/);
            return;
          }
          expect(parseReference(ref.toString())).toEqual(ref);
          expect(parseReference(ref.familiarName())).toEqual(ref);
          expect(ref.familiarName().length).toBeLessThanOrEqual(ref.toString().length);
        },
      ),
    );
  });
});
