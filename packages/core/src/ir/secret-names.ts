/**
 * Whether an ARG or ENV name looks like it holds a secret, by BuildKit's rule (SecretsUsedInArgOrEnv): a
 * word `api_key`, `apikey`, `auth`, `credential(s)`, `key`, `pass`, `password`, `secret` or `token`
 * between underscores or the ends of the name, unless the name also has the word `public`. The lint rule
 * warns about such names, and cache-miss explanations never print their values.
 */
const SECRET_WORD = /(?:^|_)(?:api_?key|auth|credentials?|key|pass(?:word)?|secret|token)(?:_|$)/i;
const PUBLIC_WORD = /(?:^|_)public(?:_|$)/i;

export function looksSecret(name: string): boolean {
  return SECRET_WORD.test(name) && !PUBLIC_WORD.test(name);
}
