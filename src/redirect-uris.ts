import type { FieldProblem } from './errors.ts';

/**
 * Redirect and logout URLs: the facts both the admin rules and the provider metadata rely on (RFC 8252),
 * and the rules a URL or an allowed CORS origin must follow to be registered (docs/clients.md).
 */

const MAX_URI_LENGTH = 2000;

/** Hosts a native app's loopback redirect may use (section 7.3). */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** A native app's URL: http on a loopback host, or a private-use scheme (anything but https). */
export function isNativeUrl(url: URL): boolean {
  return url.protocol === 'http:' ? LOOPBACK_HOSTS.has(url.hostname) : url.protocol !== 'https:';
}

/** RFC 8252 section 7.1: a private-use scheme in reverse-domain form, e.g. `com.example.app`. */
const REVERSE_DOMAIN_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9][a-z0-9+-]*)+:$/;

/** A value as error messages show it: quoted, and cut short past 80 characters. */
export const quote = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);

/**
 * The rule a redirect or logout URL breaks, or undefined when it is accepted: at most 2000 characters,
 * canonical (`new URL(u).href`), no fragment, no user info, no `*`; https, http on a loopback host, or
 * a reverse-domain private-use scheme.
 */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > MAX_URI_LENGTH) return `${quote(uri)} is longer than ${MAX_URI_LENGTH} characters`;
  const url = URL.parse(uri);
  if (!url) return `${quote(uri)} is not an absolute URL`;
  if (uri.includes('*')) return `${quote(uri)} contains "*": wildcards are not allowed, register each URL exactly`;
  if (url.username || url.password) return `${quote(uri)} carries a user name or password, which a redirect URL must not`;
  if (uri.includes('#')) return `${quote(uri)} has a fragment (#...), which a redirect URL must not have`;
  if (url.href !== uri) return `${quote(uri)} is not in canonical form: write it as ${quote(url.href)}`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : `${quote(uri)} uses plain http on a host that is not loopback (127.0.0.1, [::1] or localhost): use https`;
  }
  if (!REVERSE_DOMAIN_SCHEME.test(url.protocol)) {
    return `${quote(uri)} is not accepted: use https, http on a loopback host, or a private-use scheme in reverse-domain form such as com.example.app:/callback`;
  }
  if (!uri.slice(url.protocol.length).startsWith('/')) {
    return `${quote(uri)} needs a path after the scheme, as in com.example.app:/callback`;
  }
  return undefined;
}

/** The rule an allowed CORS origin breaks: an exact origin (scheme, host, port), https or loopback http. */
export function corsOriginProblem(origin: string): string | undefined {
  const url = URL.parse(origin);
  if (!url || origin.length > MAX_URI_LENGTH) return `${quote(origin)} is not an origin such as https://app.example.com`;
  if (url.origin !== origin) return `${quote(origin)} is not an origin in canonical form: write it as ${quote(url.origin)}`;
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return undefined;
  return `${quote(origin)} must be https, or http on a loopback host`;
}

const isHttpsLoopback = (url: URL) => url.protocol === 'https:' && LOOPBACK_HOSTS.has(url.hostname);


/** oidc-provider refuses https URLs on loopback hosts in a native client; a client with any native URL is one. */
export function mixProblems(redirectUris: string[], postLogoutRedirectUris: string[]): FieldProblem[] {
  const all = [
    ...redirectUris.map((uri, i) => ({ uri, path: `redirectUris.${i}` })),
    ...postLogoutRedirectUris.map((uri, i) => ({ uri, path: `postLogoutRedirectUris.${i}` })),
  ].map((entry) => ({ ...entry, url: new URL(entry.uri) }));
  if (!all.some((e) => isNativeUrl(e.url))) return [];
  return all
    .filter((e) => isHttpsLoopback(e.url))
    .map((e) => ({
      path: e.path,
      message: `${quote(e.uri)} is https on a loopback host, which cannot be combined with native-app URLs (http on a loopback host, or a private-use scheme) in one client`,
    }));
}

