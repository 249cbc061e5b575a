/**
 * The rules of a client's fields, shared as they are by the server (src/services/clients.ts,
 * src/redirect-uris.ts) and the admin console in the browser: plain JavaScript without imports or
 * Node APIs, so both load this very file (docs/clients.md).
 *
 * A problem is `{ code, message }` (and `limit` or `canonical` where the code has one): `code` is one
 * of the admin API's field-problem codes (docs/admin-api.md), `message` what the API says.
 */

export const CLIENT_TYPES = Object.freeze(['hybrid', 'authorization-code', 'client-credentials']);

/** Which fields each type of client has. */
export const FIELDS_BY_TYPE = Object.freeze({
  hybrid: Object.freeze(['name', 'enabled', 'redirectUris', 'postLogoutRedirectUris', 'allowRefreshToken', 'accessTokenLifetime']),
  'authorization-code': Object.freeze(['name', 'enabled', 'redirectUris', 'postLogoutRedirectUris', 'accessTokenLifetime', 'allowedCorsOrigins']),
  'client-credentials': Object.freeze(['name', 'enabled', 'accessTokenLifetime', 'roles']),
});

/** Types whose clients authenticate with secrets. */
export const TYPES_WITH_SECRETS = Object.freeze(['hybrid', 'client-credentials']);

export const LIMITS = Object.freeze({
  name: Object.freeze({ max: 100 }),
  accessTokenLifetime: Object.freeze({ min: 60, max: 3600, default: 3600 }),
  secretDescription: Object.freeze({ max: 100 }),
  urls: Object.freeze({ maxLength: 2000 }),
});

/** The URL lists: how many items each holds, and which rule each item follows. */
export const URL_LISTS = Object.freeze({
  redirectUris: Object.freeze({ min: 1, max: 10, item: 'redirect' }),
  postLogoutRedirectUris: Object.freeze({ min: 0, max: 10, item: 'redirect' }),
  allowedCorsOrigins: Object.freeze({ min: 0, max: 10, item: 'origin' }),
});

/** Hosts a native app's loopback redirect may use (RFC 8252 section 7.3). */
const LOOPBACK_HOSTS = Object.freeze(['127.0.0.1', '[::1]', 'localhost']);

/** RFC 8252 section 7.1: a private-use scheme in reverse-domain form, e.g. `com.example.app`. */
const REVERSE_DOMAIN_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9][a-z0-9+-]*)+:$/;

/**
 * A value as messages show it: quoted, and cut short past 80 characters.
 * @param {string} value
 */
export const quote = (value) => JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);

/**
 * A native app's URL: http on a loopback host, or a private-use scheme (anything but https).
 * @param {URL} url
 */
export function isNativeUrl(url) {
  return url.protocol === 'http:' ? LOOPBACK_HOSTS.includes(url.hostname) : url.protocol !== 'https:';
}

/**
 * The rule a redirect or logout URL breaks, or undefined when it is accepted: at most 2000 characters,
 * canonical (`new URL(u).href`), no fragment, no user info, no `*`; https, http on a loopback host, or
 * a reverse-domain private-use scheme.
 * @param {string} uri
 */
export function redirectUriProblem(uri) {
  const max = LIMITS.urls.maxLength;
  if (uri.length > max) return { code: 'too-long', message: `${quote(uri)} is longer than ${max} characters`, limit: max };
  const url = URL.parse(uri);
  if (!url) return { code: 'not-absolute-url', message: `${quote(uri)} is not an absolute URL` };
  if (uri.includes('*')) return { code: 'wildcard', message: `${quote(uri)} contains "*": wildcards are not allowed, register each URL exactly` };
  if (url.username || url.password) return { code: 'userinfo', message: `${quote(uri)} carries a user name or password, which a redirect URL must not` };
  if (uri.includes('#')) return { code: 'fragment', message: `${quote(uri)} has a fragment (#...), which a redirect URL must not have` };
  if (url.href !== uri) return { code: 'not-canonical', message: `${quote(uri)} is not in canonical form: write it as ${quote(url.href)}`, canonical: url.href };
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.includes(url.hostname)
      ? undefined
      : { code: 'insecure-http', message: `${quote(uri)} uses plain http on a host that is not loopback (127.0.0.1, [::1] or localhost): use https` };
  }
  if (!REVERSE_DOMAIN_SCHEME.test(url.protocol)) {
    return {
      code: 'scheme-not-allowed',
      message: `${quote(uri)} is not accepted: use https, http on a loopback host, or a private-use scheme in reverse-domain form such as com.example.app:/callback`,
    };
  }
  if (!uri.slice(url.protocol.length).startsWith('/')) {
    return { code: 'path-required', message: `${quote(uri)} needs a path after the scheme, as in com.example.app:/callback` };
  }
  return undefined;
}

/**
 * The rule an allowed CORS origin breaks: an exact origin (scheme, host, port), https or loopback http.
 * @param {string} origin
 */
export function corsOriginProblem(origin) {
  const url = URL.parse(origin);
  if (!url || origin.length > LIMITS.urls.maxLength) return { code: 'not-an-origin', message: `${quote(origin)} is not an origin such as https://app.example.com` };
  if (url.origin !== origin) {
    return { code: 'not-canonical', message: `${quote(origin)} is not an origin in canonical form: write it as ${quote(url.origin)}`, canonical: url.origin };
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname))) return undefined;
  return { code: url.protocol === 'http:' ? 'insecure-http' : 'scheme-not-allowed', message: `${quote(origin)} must be https, or http on a loopback host` };
}

/**
 * What adding `value` to `list` (the items the URL list `field` holds now) would break: the item's own
 * rule, a duplicate, or a full list; undefined when it may be added.
 * @param {'redirectUris' | 'postLogoutRedirectUris' | 'allowedCorsOrigins'} field
 * @param {string} value
 * @param {readonly string[]} list
 */
export function urlListItemProblem(field, value, list) {
  const rules = URL_LISTS[field];
  const own = rules.item === 'origin' ? corsOriginProblem(value) : redirectUriProblem(value);
  if (own) return own;
  if (list.includes(value)) return { code: 'duplicate', message: `${quote(value)} is listed twice` };
  if (list.length >= rules.max) return { code: 'too-many', message: `must list at most ${rules.max} URLs`, limit: rules.max };
  return undefined;
}

/**
 * oidc-provider refuses https URLs on loopback hosts in a native client, and a client with any native
 * URL is one: each such https URL of a client's redirect and logout URLs, by its path.
 * @param {readonly string[]} redirectUris
 * @param {readonly string[]} postLogoutRedirectUris
 */
export function loopbackMixProblems(redirectUris, postLogoutRedirectUris) {
  const all = [
    ...redirectUris.map((uri, i) => ({ uri, path: `redirectUris.${i}` })),
    ...postLogoutRedirectUris.map((uri, i) => ({ uri, path: `postLogoutRedirectUris.${i}` })),
  ].map((entry) => ({ ...entry, url: URL.parse(entry.uri) }));
  if (!all.some((e) => e.url && isNativeUrl(e.url))) return [];
  return all
    .filter((e) => e.url && e.url.protocol === 'https:' && LOOPBACK_HOSTS.includes(e.url.hostname))
    .map((e) => ({
      path: e.path,
      code: 'loopback-mix',
      message: `${quote(e.uri)} is https on a loopback host, which cannot be combined with native-app URLs (http on a loopback host, or a private-use scheme) in one client`,
    }));
}
