/**
 * Secrets never reach logs, errors or debug output. Every password, identity token and bearer token
 * wharf handles is registered here when it is read, and {@link redact} replaces them (and anything
 * shaped like an Authorization header or a token field) before text leaves the registry module.
 */

const secrets = new Set<string>();

/** Registers a secret so that {@link redact} hides it. Short strings (< 4 chars) are hidden by pattern only. */
export function rememberSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) {
    secrets.add(secret);
    // The base64 forms that end up in headers and config files.
    secrets.add(Buffer.from(secret).toString('base64'));
  }
}

/** Registers `user:password` in its Basic-header form too. */
export function rememberBasic(username: string, password: string): void {
  rememberSecret(password);
  rememberSecret(Buffer.from(`${username}:${password}`).toString('base64'));
}

const PATTERNS: readonly [RegExp, string][] = [
  [/(authorization\s*[:=]\s*"?)(basic|bearer)\s+[^\s",}]+/gi, '$1$2 ***'],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{16,}/gi, '$1 ***'],
  [/("(?:token|access_token|refresh_token|identitytoken|password|secret|auth)"\s*:\s*")[^"]*"/gi, '$1***"'],
  [/([?&](?:password|refresh_token|access_token|token)=)[^&\s]+/gi, '$1***'],
  [/(\/\/[^/:@\s]+:)[^@/\s]+@/g, '$1***@'],
];

/** `text` with registered secrets and secret-shaped fields replaced by `***`. */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out;
}

/** Registers the password of a URL (`https://user:pass@mirror`), raw and percent-decoded. */
export function rememberUrlSecret(url: URL): void {
  if (!url.password) return;
  rememberBasic(decodeURIComponent(url.username), decodeURIComponent(url.password));
  rememberSecret(url.password);
}

/**
 * A URL for display: its password replaced by `***` (also in text that is not a valid URL), then
 * {@link redact}ed. Use it wherever a registry, mirror, realm or Location URL reaches a message or event.
 */
export function redactUrl(text: string): string {
  let out = text;
  try {
    const url = new URL(text);
    if (url.password) {
      rememberUrlSecret(url);
      url.password = '***';
      out = url.toString();
      // URL keeps a trailing slash the user did not write; keep the text as given otherwise.
      if (!text.endsWith('/') && out.endsWith('/') && url.pathname === '/') out = out.slice(0, -1);
    }
  } catch {
    out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@\s]*?:)[^@\s]*@/i, '$1***@');
  }
  return redact(out);
}

/** Headers for display: Authorization and cookies replaced. */
export function redactHeaders(headers: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) {
    out[k] = /^(authorization|proxy-authorization|cookie|set-cookie)$/i.test(k)
      ? '***'
      : typeof v === 'string'
        ? redact(v)
        : v;
  }
  return out;
}
