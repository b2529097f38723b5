import { describe, expect, it } from 'vitest';
import { parseGroup, parsePasswd, resolveUserSpec } from './user.js';

const passwd = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  '# a comment',
  'broken-line',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
].join('\n');
const group = [
  'root:x:0:',
  'app:x:1000:',
  'docker:x:998:app,other',
  'wheel:x:10:app',
  'nogroup:x:65534:',
].join('\n');

describe('USER resolution (libcontainer GetExecUser rules)', () => {
  it('defaults to root', () => {
    expect(resolveUserSpec(undefined, passwd, group)).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    expect(resolveUserSpec('', undefined, undefined)).toEqual({ uid: 0, gid: 0, additionalGids: [] });
  });

  it('takes uid:gid as given, without reading any file', () => {
    expect(resolveUserSpec('123:456', undefined, undefined)).toEqual({
      uid: 123,
      gid: 456,
      additionalGids: [],
    });
  });

  it('resolves a name to its uid, primary gid and member groups', () => {
    expect(resolveUserSpec('app', passwd, group)).toEqual({
      uid: 1000,
      gid: 1000,
      additionalGids: [998, 10],
    });
  });

  it('a numeric uid in passwd gets that entry; one that is not gets gid 0', () => {
    expect(resolveUserSpec('65534', passwd, group)).toEqual({ uid: 65534, gid: 65534, additionalGids: [] });
    expect(resolveUserSpec('4242', passwd, group)).toEqual({ uid: 4242, gid: 0, additionalGids: [] });
  });

  it('an explicit group replaces the primary one and the memberships', () => {
    expect(resolveUserSpec('app:docker', passwd, group)).toEqual({ uid: 1000, gid: 998, additionalGids: [] });
    expect(resolveUserSpec('app:7', passwd, group)).toEqual({ uid: 1000, gid: 7, additionalGids: [] });
    expect(resolveUserSpec('1000:wheel', passwd, group)).toEqual({ uid: 1000, gid: 10, additionalGids: [] });
  });

  it('unknown names fail with the runc wording', () => {
    expect(() => resolveUserSpec('ghost', passwd, group)).toThrow(
      'unable to find user ghost: no matching entries in passwd file',
    );
    expect(() => resolveUserSpec('app:ghosts', passwd, group)).toThrowError(
      expect.objectContaining({ code: 'RUN_UNKNOWN_GROUP' }),
    );
    expect(() => resolveUserSpec('app', undefined, undefined)).toThrowError(
      expect.objectContaining({ code: 'RUN_UNKNOWN_USER' }),
    );
  });

  it('parses passwd and group leniently', () => {
    expect(parsePasswd(passwd).map((u) => u.name)).toEqual(['root', 'app', 'nobody']);
    expect(parseGroup(group).find((g) => g.name === 'docker')?.members).toEqual(['app', 'other']);
  });
});
