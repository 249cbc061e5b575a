import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';

/** Paths (below the issuer's path) that belong to oidc-provider. */
const PROVIDER_PREFIXES = ['/.well-known/', '/auth', '/token', '/me', '/jwks', '/session/end', '/request'];

function ownedByProvider(path: string): boolean {
  return PROVIDER_PREFIXES.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p || path.startsWith(`${p}/`)));
}

/**
 * Endpoints that OpenID Connect requires to take a form POST as well as a GET: the authorization
 * endpoint (Core 3.1.2.1) and the end-session endpoint (RP-Initiated Logout 2).
 */
const FORM_AS_GET = new Set(['/auth', '/session/end']);

/** oidc-provider's own limit for form bodies. */
const AUTH_BODY_LIMIT = 56 * 1024;

function isFormBody(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

async function readBody(stream: AsyncIterable<Buffer>, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Hands the provider's routes to oidc-provider's own request handler, before Fastify parses any
 * body. The issuer's path is the mount point: the provider sees the path below it and learns the
 * mount from `originalUrl`.
 *
 * An authorization or end-session request sent as a form (OpenID Connect requires both endpoints to
 * take GET and POST) is handed over as the equivalent GET. oidc-provider's own POST support is off: it
 * needs SameSite=None cookies, which browsers refuse over plain http. (A cross-site POST carries no SameSite=Lax cookie
 * either way, so a user already signed in is asked to sign in again on such a request.)
 */
export function mountProvider(app: FastifyInstance, provider: Provider, mountPath: string) {
  const callback = provider.callback();
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.raw.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const search = q === -1 ? '' : url.slice(q);
    if (mountPath && path !== mountPath && !path.startsWith(`${mountPath}/`)) return done();
    const inner = path.slice(mountPath.length) || '/';
    if (!ownedByProvider(inner)) return done();
    reply.hijack();
    const raw = request.raw as typeof request.raw & { originalUrl?: string };
    const handOver = (query: string) => {
      raw.url = `${inner}${query}`;
      raw.originalUrl = `${mountPath}${raw.url}`;
      void callback(raw, reply.raw);
    };
    if (!FORM_AS_GET.has(inner) || request.method !== 'POST' || !isFormBody(request.headers['content-type'])) return handOver(search);
    readBody(raw, AUTH_BODY_LIMIT).then(
      (body) => {
        if (body === undefined) {
          reply.raw.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('request body too large');
          return;
        }
        raw.method = 'GET';
        delete raw.headers['content-length'];
        delete raw.headers['content-type'];
        handOver(body ? `?${body}` : '');
      },
      () => reply.raw.destroy(),
    );
  });
}
