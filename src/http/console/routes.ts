import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONSOLE_CALLBACK_PATH, CONSOLE_CLIENT_ID } from '../../oidc/provider.ts';

export interface ConsoleDeps {
  /** The issuer identifier; the console discovers every endpoint below it. */
  issuer: string;
}

const PUBLIC_DIR = join(import.meta.dirname, 'public');

/** The console's files: plain HTML, CSS and browser ES modules, read once (there is no build step). */
const ASSETS = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
} as const;

/**
 * The console calls only its own origin (the admin API and the provider share it, since the console's
 * redirect URI is on the issuer's origin), runs only its own script and is never framed. The callback
 * URL carries an authorization code, hence no Referer.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The admin web console at /admin: a static single-page app signing in through Keyhold itself. */
export async function consoleRoutes(app: FastifyInstance, deps: ConsoleDeps) {
  const files = new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(join(PUBLIC_DIR, name))]));
  const origin = new URL(deps.issuer).origin;
  const config = JSON.stringify({
    issuer: deps.issuer,
    clientId: CONSOLE_CLIENT_ID,
    redirectUri: `${origin}${CONSOLE_CALLBACK_PATH}`,
    postLogoutRedirectUri: `${origin}/admin/`,
  });

  const secure = (reply: FastifyReply) =>
    reply
      .header('content-security-policy', CSP)
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cross-origin-opener-policy', 'same-origin');

  const send = (reply: FastifyReply, name: keyof typeof ASSETS, cache: string) =>
    secure(reply).header('cache-control', cache).type(ASSETS[name]).send(files.get(name));

  for (const path of ['/admin', '/admin/', CONSOLE_CALLBACK_PATH]) {
    app.get(path, async (_request, reply) => send(reply, 'index.html', 'no-store'));
  }
  app.get('/admin/console.js', async (_request, reply) => send(reply, 'console.js', 'no-cache'));
  app.get('/admin/console.css', async (_request, reply) => send(reply, 'console.css', 'no-cache'));
  // The code exchange, relayed. oidc-provider applies client-based CORS to every token request that
  // carries an Origin header, and a browser sends one on any POST, same-origin included; the console's
  // static client lists no CORS origins. So the page posts here (same origin, JSON: a cross-site form
  // cannot send it without a preflight) and this relays exactly one authorization_code grant for the
  // console client to the provider, in process. PKCE still binds the code to the page's verifier.
  const tokenPath = `${new URL(deps.issuer).pathname.replace(/\/$/, '')}/token`;
  app.post('/admin/token', async (request, reply) => {
    const body = request.body as { code?: unknown; code_verifier?: unknown } | undefined;
    const given = request.headers.origin;
    if (given !== undefined && given !== origin) {
      return reply.code(403).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: 'cross-origin request' });
    }
    if (typeof body?.code !== 'string' || typeof body.code_verifier !== 'string') {
      return reply.code(400).header('cache-control', 'no-store').send({ error: 'invalid_request', error_description: 'code and code_verifier are required' });
    }
    const answer = await app.inject({
      method: 'POST',
      url: tokenPath,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      payload: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: CONSOLE_CLIENT_ID,
        redirect_uri: `${origin}${CONSOLE_CALLBACK_PATH}`,
        code: body.code,
        code_verifier: body.code_verifier,
      }).toString(),
    });
    return reply.code(answer.statusCode).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(answer.body);
  });
  app.get('/admin/config.json', async (_request, reply) =>
    secure(reply).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(config),
  );
}
