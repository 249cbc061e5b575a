import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { AUDIT_EVENT_TYPES } from '../../audit.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONSOLE_CALLBACK_PATH, CONSOLE_CLIENT_ID } from '../../oidc/provider.ts';
import { ADMIN_ROLE, ADMIN_SCOPE, RESOURCE_SERVER_ROLE } from '../../roles.ts';
import { sendStatic, staticFile, type StaticFile } from '../static-file.ts';

export interface ConsoleDeps {
  /** The issuer identifier; the console discovers every endpoint below it. */
  issuer: string;
}

const PUBLIC_DIR = join(import.meta.dirname, 'public');
/** The client rules the admin API applies, imported by the console as they are (src/rules). */
const RULES_DIR = join(import.meta.dirname, '..', '..', 'rules');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The console calls only its own origin (the admin API and the provider share it, since the console's
 * redirect URI is on the issuer's origin), runs only its own scripts and is never framed. The callback
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

/** Every file under `dir` (html, js, css), by its URL below `prefix`. */
function assetsIn(dir: string, prefix: string): Map<string, StaticFile> {
  const assets = new Map<string, StaticFile>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const type = TYPES[extname(entry.name)];
    if (!entry.isFile() || !type) continue;
    const path = join(entry.parentPath, entry.name);
    assets.set(`${prefix}/${relative(dir, path).split(sep).join('/')}`, staticFile(readFileSync(path), type));
  }
  return assets;
}

/** The admin web console at /admin: a static single-page app of ES modules, signing in through Keyhold itself. */
export async function consoleRoutes(app: FastifyInstance, deps: ConsoleDeps) {
  // Read once: there is no build step, and the files do not change while Keyhold runs.
  const assets = new Map([...assetsIn(PUBLIC_DIR, '/admin'), ...assetsIn(RULES_DIR, '/admin/js/rules')]);
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

  /**
   * Scripts and styles are revalidated on every use (`no-cache` with an ETag): a browser keeps its
   * copy and gets a bodiless 304 until Keyhold is upgraded, and never runs a stale module beside new ones.
   */
  const send = (request: FastifyRequest, reply: FastifyReply, asset: StaticFile, cache: string) =>
    sendStatic(request, secure(reply).header('cache-control', cache), asset);

  const index = assets.get('/admin/index.html')!;
  for (const path of ['/admin', '/admin/', CONSOLE_CALLBACK_PATH]) {
    app.get(path, async (request, reply) => send(request, reply, index, 'no-store'));
  }
  for (const [path, asset] of assets) {
    if (asset !== index) app.get(path, async (request, reply) => send(request, reply, asset, 'no-cache'));
  }
  app.get('/admin/config.json', async (_request, reply) =>
    secure(reply).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(config),
  );
}
