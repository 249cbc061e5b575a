import type Provider from 'oidc-provider';

/**
 * Makes every URL oidc-provider builds start with the issuer, whatever host the request names.
 *
 * oidc-provider resolves the URLs it publishes (discovery, the sign-out form's action, the address an
 * authorization resumes at) against the request's own URL, which Koa takes from the Host header, or
 * from X-Forwarded-Host and X-Forwarded-Proto when `provider.proxy` is on. A request naming another
 * host would then be told about endpoints on that host. Here the provider's request prototype (Koa's
 * `app.request`, from which every `ctx.request` is made) answers the host and the full URL from the
 * issuer instead. `protocol` and `secure` are left alone: behind a trusted proxy, X-Forwarded-Proto
 * still decides whether cookies are marked Secure, and X-Forwarded-For still gives the client address.
 *
 * Requests for another host are served (with the issuer's URLs), not refused with 421: behind a proxy
 * that does not pass Host on, every request names the upstream's address, and apps and probes often
 * reach Keyhold by an internal name (a service name, 127.0.0.1 for localhost). None of them can make
 * Keyhold publish their host.
 */
export function pinUrlsToIssuer(provider: Provider, issuer: string): void {
  const url = new URL(issuer);
  const { origin, host, hostname } = url;
  Object.defineProperties(provider.request, {
    host: { configurable: true, get: () => host },
    hostname: { configurable: true, get: () => hostname },
    href: {
      configurable: true,
      get(this: { originalUrl: string }) {
        // Appended, never resolved: a path such as //other.example/x stays a path on the issuer.
        return `${origin}${this.originalUrl.startsWith('/') ? this.originalUrl : `/${this.originalUrl}`}`;
      },
    },
    URL: {
      configurable: true,
      get(this: { href: string }) {
        return new URL(this.href);
      },
    },
  });
}
