/** Facts about redirect URLs that both the admin rules and the provider metadata rely on (RFC 8252). */

/** Hosts a native app's loopback redirect may use (section 7.3). */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** A native app's URL: http on a loopback host, or a private-use scheme (anything but https). */
export function isNativeUrl(url: URL): boolean {
  return url.protocol === 'http:' ? LOOPBACK_HOSTS.has(url.hostname) : url.protocol !== 'https:';
}
