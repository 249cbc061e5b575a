import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';

/** Paths (below the issuer's path) that belong to oidc-provider. */
const PROVIDER_PREFIXES = ['/.well-known/', '/auth', '/token', '/me', '/jwks', '/session/end', '/request'];

function ownedByProvider(path: string): boolean {
  return PROVIDER_PREFIXES.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p || path.startsWith(`${p}/`)));
}

/**
 * OIDC asks `offline_access` to come with `prompt=consent`. Keyhold has no consent screen (clients are
 * the administrator's own apps, and the consent prompt resolves without interaction), so it adds
 * `consent` itself: a refresh token then needs only `offline_access` and a client that allows it.
 */
function withConsentForOfflineAccess(search: string): string {
  const params = new URLSearchParams(search);
  const scope = params.get('scope')?.split(' ') ?? [];
  const prompt = params.get('prompt')?.split(' ').filter(Boolean) ?? [];
  if (!scope.includes('offline_access') || prompt.includes('consent') || prompt.includes('none')) return search;
  if (params.getAll('prompt').length > 1) return search; // let the provider reject duplicate parameters
  params.set('prompt', [...prompt, 'consent'].join(' '));
  return `?${params.toString()}`;
}

/**
 * Hands the provider's routes to oidc-provider's own request handler, before Fastify parses any
 * body. The issuer's path is the mount point: the provider sees the path below it and learns the
 * mount from `originalUrl`.
 */
export function mountProvider(app: FastifyInstance, provider: Provider, mountPath: string) {
  const callback = provider.callback();
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.raw.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let search = q === -1 ? '' : url.slice(q);
    if (mountPath && path !== mountPath && !path.startsWith(`${mountPath}/`)) return done();
    const inner = path.slice(mountPath.length) || '/';
    if (!ownedByProvider(inner)) return done();
    if (inner === '/auth' && request.method === 'GET') search = withConsentForOfflineAccess(search);
    reply.hijack();
    const raw = request.raw as typeof request.raw & { originalUrl?: string };
    raw.url = `${inner}${search}`;
    raw.originalUrl = `${mountPath}${raw.url}`;
    void callback(raw, reply.raw);
  });
}
