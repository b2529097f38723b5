/**
 * `WWW-Authenticate` parsing (RFC 7235): `Bearer realm="https://auth.example/token",service="reg",
 * scope="repository:a/b:pull,push"` or `Basic realm="x"`. Several challenges may share one header,
 * separated by commas between parameter lists; quoted strings may contain commas and `\"` escapes.
 */

export interface Challenge {
  /** Lowercase: `bearer`, `basic`. */
  readonly scheme: string;
  /** Parameter names lowercase; values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** All challenges in one or more `WWW-Authenticate` header values. */
export function parseChallenges(values: string | readonly string[] | undefined): Challenge[] {
  if (values === undefined) return [];
  const list = typeof values === 'string' ? [values] : values;
  return list.flatMap(parseOne);
}

function parseOne(input: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < input.length && (input[i] === ' ' || input[i] === '\t')) i++;
  };
  while (i < input.length) {
    skipSpace();
    while (input[i] === ',') {
      i++;
      skipSpace();
    }
    const scheme = TOKEN.exec(input.slice(i))?.[0];
    if (!scheme) break;
    i += scheme.length;
    const params: Record<string, string> = {};
    // auth-params: name=value pairs separated by commas; a token without "=" starts the next challenge.
    for (;;) {
      skipSpace();
      const save = i;
      const name = TOKEN.exec(input.slice(i))?.[0];
      if (!name) break;
      i += name.length;
      skipSpace();
      if (input[i] !== '=') {
        i = save; // next challenge's scheme (or token68, which registries do not use)
        break;
      }
      i++;
      skipSpace();
      let value = '';
      if (input[i] === '"') {
        i++;
        while (i < input.length && input[i] !== '"') {
          if (input[i] === '\\' && i + 1 < input.length) i++;
          value += input[i];
          i++;
        }
        i++; // closing quote
      } else {
        const m = /^[^,\s]*/.exec(input.slice(i))?.[0] ?? '';
        value = m;
        i += m.length;
      }
      params[name.toLowerCase()] = value;
      skipSpace();
      if (input[i] === ',') i++;
    }
    out.push({ scheme: scheme.toLowerCase(), params });
  }
  return out;
}

/** The challenge wharf acts on: Bearer if offered, else Basic; `undefined` for anything else. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}

/** The token scope for a repository: `repository:<name>:<actions>`. */
export function repositoryScope(repository: string, actions: 'pull' | 'push' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}

/**
 * Normalises scopes: one entry per resource, actions merged and sorted (`pull,push`), resources
 * sorted. So `[a:push, a:pull]` and `[a:pull,push]` are the same cache key and the same request.
 */
export function mergeScopes(scopes: readonly string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    for (const one of scope.split(' ')) {
      if (!one) continue;
      const last = one.lastIndexOf(':');
      if (last < 0) continue;
      const resource = one.slice(0, last);
      const actions = byResource.get(resource) ?? new Set<string>();
      for (const action of one.slice(last + 1).split(',')) if (action) actions.add(action);
      byResource.set(resource, actions);
    }
  }
  return [...byResource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`);
}
