import type { FieldProblem } from './errors.ts';
import { loopbackMixProblems } from './rules/client-rules.js';

/**
 * Redirect and logout URLs: the facts both the admin rules and the provider metadata rely on (RFC 8252).
 * The rules themselves live in rules/client-rules.js, which the admin console loads too.
 */

export { corsOriginProblem, isNativeUrl, quote, redirectUriProblem } from './rules/client-rules.js';

/** oidc-provider refuses https URLs on loopback hosts in a native client; a client with any native URL is one. */
export function mixProblems(redirectUris: string[], postLogoutRedirectUris: string[]): FieldProblem[] {
  return loopbackMixProblems(redirectUris, postLogoutRedirectUris).map(({ path, message }) => ({ path, code: 'loopback-mix', message }));
}
