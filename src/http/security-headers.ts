import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { pagePolicy } from '../pages/views.ts';

/**
 * The headers every response carries, and those of every HTML page, whether Fastify or oidc-provider
 * renders it. Provider responses bypass Fastify's hooks (the mount hijacks the reply), so they get
 * theirs from a provider middleware; Fastify's from an onSend hook. A header a route has already set
 * (a page's own Content-Security-Policy, the console's Referrer-Policy) is kept.
 */

/** One year; sent on every response when the issuer is https (browsers ignore it over plain http). */
export const HSTS = 'max-age=31536000';

/** Discovery and the JWKS: the same for every request (URLs come from the issuer), so shared caches may keep them. */
const METADATA_CACHE_CONTROL = 'public, max-age=300';

/** Headers for every response, HTML or not. */
function baseHeaders(issuer: string): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    // URLs carry codes, interaction ids and state: they are not passed on to the next site.
    'referrer-policy': 'no-referrer',
    ...(new URL(issuer).protocol === 'https:' ? { 'strict-transport-security': HSTS } : {}),
  };
}

const isHtml = (contentType: unknown) => typeof contentType === 'string' && /^text\/html\b/i.test(contentType.trim());

/** Fastify's own responses (sign-in pages, console, admin API, health): an onSend hook on the root instance. */
export function registerSecurityHeaders(app: FastifyInstance, issuer: string): void {
  const base = Object.entries(baseHeaders(issuer));
  const policy = pagePolicy(issuer);
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of base) if (!reply.hasHeader(name)) reply.header(name, value);
    if (isHtml(reply.getHeader('content-type'))) {
      if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', policy);
      if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'DENY');
    }
    return payload;
  });
}

/**
 * Set before the provider renders: oidc-provider adds the hash of every inline script it writes (the
 * self-submitting form_post page) to the script-src of a policy already on the response, so only its
 * own script is ever allowed. Afterwards the policy is rebuilt from the hashes collected; a page that
 * set its own policy (the sign-out page in oidc/provider.ts) has replaced this one and keeps its own.
 */
const COLLECTING = "script-src 'none'";
const COLLECTED = /^script-src 'none'((?: 'sha256-[A-Za-z0-9+/]+={0,2}')*)$/;

/** The app URL a provider page's form ends at, once the provider has accepted it for the client. */
function formTarget(ctx: KoaContextWithOIDC): string | undefined {
  const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
  const client = oidc?.client;
  const params = oidc?.params as Record<string, unknown> | undefined;
  if (!client || !params) return undefined;
  if (oidc.route === 'authorization' || oidc.route === 'resume') {
    const uri = params['redirect_uri'];
    return typeof uri === 'string' && client.redirectUriAllowed(uri) ? uri : undefined;
  }
  if (oidc.route === 'end_session') {
    const uri = params['post_logout_redirect_uri'];
    return typeof uri === 'string' && client.postLogoutRedirectUriAllowed(uri) ? uri : undefined;
  }
  return undefined;
}

/** oidc-provider's responses (discovery, JWKS, its pages and form_post responses): a provider middleware. */
export function installProviderSecurityHeaders(provider: Provider, issuer: string): void {
  const base = Object.entries(baseHeaders(issuer));
  provider.use(async (ctx, next) => {
    for (const [name, value] of base) ctx.set(name, value);
    ctx.set('content-security-policy', COLLECTING);
    await next();

    const route = (ctx as KoaContextWithOIDC).oidc?.route;
    if ((route === 'discovery' || route === 'jwks') && ctx.status === 200) {
      ctx.set('cache-control', METADATA_CACHE_CONTROL);
      // The CORS answer echoes the request's Origin (oidc-provider sets Vary: Origin too).
      ctx.vary('Origin');
    }

    const collected = COLLECTED.exec(ctx.response.get('content-security-policy'));
    if (!ctx.response.is('html')) {
      if (collected) ctx.remove('content-security-policy');
      return;
    }
    if (collected) {
      const scriptHashes = collected[1]!.trim().split(' ').filter(Boolean);
      ctx.set('content-security-policy', pagePolicy(issuer, { scriptHashes, formTarget: formTarget(ctx as KoaContextWithOIDC) }));
      // A self-submitting form to the app (form_post): its POST carries `Origin: <issuer>` instead of
      // `Origin: null`, which apps checking the origin of cross-site POSTs would refuse.
      if (scriptHashes.length && (route === 'authorization' || route === 'resume')) ctx.set('referrer-policy', 'origin');
    }
    if (!ctx.response.get('x-frame-options')) ctx.set('x-frame-options', 'DENY');
  });
}
