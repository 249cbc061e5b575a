import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIT_EVENT_TYPES } from '../../audit.ts';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONSOLE_CALLBACK_PATH, CONSOLE_CLIENT_ID } from '../../oidc/provider.ts';
import { ADMIN_ROLE, ADMIN_SCOPE, RESOURCE_SERVER_ROLE } from '../../roles.ts';

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
    // The Audit page's type filter: the server's own list, not a copy.
    auditEventTypes: AUDIT_EVENT_TYPES,
    // The role and scope names the console shows and sends (src/roles.ts).
    roles: { admin: ADMIN_ROLE, resourceServer: RESOURCE_SERVER_ROLE },
    adminScope: ADMIN_SCOPE,
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
  app.get('/admin/config.json', async (_request, reply) =>
    secure(reply).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(config),
  );
}
