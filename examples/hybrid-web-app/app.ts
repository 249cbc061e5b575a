/**
 * A small server-side web app that signs its users in with Keyhold, using the hybrid flow
 * (`response_type=code id_token`, `response_mode=form_post`) through openid-client:
 *
 *   GET  /          who is signed in (or a Sign in button)
 *   GET  /login     sends the browser to Keyhold
 *   POST /callback  Keyhold posts the code and ID token here; the back end redeems the code
 *   POST /refresh   refreshes the tokens
 *   POST /logout    revokes the refresh token, forgets the session, and logs out at Keyhold
 *
 * Sessions live in memory: this is an example, not a template for production (see examples/README.md).
 * Run it with `npm run example` (environment: KEYHOLD_ISSUER, CLIENT_ID, CLIENT_SECRET, APP_URL).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as oidc from 'openid-client';

export interface ExampleOptions {
  /** Keyhold's issuer, e.g. http://localhost:3000. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where this app is reached, e.g. http://localhost:4000; /callback and / are its registered URLs. */
  appUrl: string;
}

interface PendingSignIn {
  verifier: string;
  nonce: string;
  expires: number;
}

interface Session {
  claims: oidc.IDToken;
  userinfo: oidc.UserInfoResponse;
  idToken: string;
  accessToken: string;
  refreshToken: string | undefined;
  accessTokenExpiresAt: number;
  refreshedAt: number | undefined;
}

const SESSION_COOKIE = 'example_session';
const PENDING_COOKIE = 'example_pending';

export async function createExampleApp(options: ExampleOptions): Promise<Server> {
  const appUrl = options.appUrl.replace(/\/$/, '');
  const redirectUri = `${appUrl}/callback`;
  const signedOutUri = `${appUrl}/`;
  const secure = appUrl.startsWith('https:');

  // Discovery, and the hybrid response type: openid-client then checks the front-channel ID token
  // (signature, nonce, c_hash) before it redeems the code.
  const issuer = new URL(options.issuer);
  const config = await oidc.discovery(issuer, options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
    execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
  });
  oidc.useCodeIdTokenResponseType(config);

  const pending = new Map<string, PendingSignIn>(); // by state
  const sessions = new Map<string, Session>(); // by session cookie

  function cookie(name: string, value: string, maxAge: number, crossSitePost = false) {
    // Keyhold posts the sign-in response from its own site: over https the pending cookie must be
    // SameSite=None to come along (same-site hosts, such as two localhost ports, are fine with Lax).
    const sameSite = crossSitePost && secure ? 'None' : 'Lax';
    return `${name}=${value}; Path=/; HttpOnly; SameSite=${sameSite}; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
  }

  function cookies(req: IncomingMessage): Map<string, string> {
    const jar = new Map<string, string>();
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) jar.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    return jar;
  }

  async function readForm(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 64 * 1024) throw new Error('form too large');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function send(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}) {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // Sign out is a form whose redirect goes on to Keyhold: browsers check that redirect against form-action.
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${issuer.origin}`,
      ...headers,
    });
    res.end(layout(html));
  }

  function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}) {
    res.writeHead(303, { location, 'cache-control': 'no-store', ...headers });
    res.end();
  }

  async function login(res: ServerResponse) {
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    pending.set(state, { verifier, nonce, expires: Date.now() + 10 * 60_000 });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      response_type: 'code id_token',
      response_mode: 'form_post',
      scope: 'openid profile email offline_access',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    redirect(res, url.href, { 'set-cookie': cookie(PENDING_COOKIE, state, 600, true) });
  }

  async function callback(req: IncomingMessage, res: ServerResponse) {
    const body = await readForm(req);
    const params = new URLSearchParams(body);
    const state = params.get('state') ?? '';
    const sign = pending.get(state);
    pending.delete(state);
    // The state must be the one this browser was given: this stops someone else's sign-in from landing here.
    if (!sign || sign.expires < Date.now() || cookies(req).get(PENDING_COOKIE) !== state) {
      return send(
        res,
        400,
        `<h1>Sign-in failed</h1><p>This sign-in was not started in this browser, or took too long. Open the app at
<a href="${escape(signedOutUri)}">${escape(signedOutUri)}</a> (the same host name as Keyhold's) and start again.</p>`,
      );
    }
    if (params.get('error')) {
      return send(res, 400, `<h1>Sign-in failed</h1><p>${escape(params.get('error'))}: ${escape(params.get('error_description'))}</p><p><a href="/">Start again</a></p>`);
    }
    const request = new Request(redirectUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const tokens = await oidc.authorizationCodeGrant(config, request, {
      pkceCodeVerifier: sign.verifier,
      expectedNonce: sign.nonce,
      expectedState: state,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    const id = randomBytes(32).toString('base64url');
    sessions.set(id, {
      claims,
      userinfo,
      idToken: tokens.id_token!,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      accessTokenExpiresAt: Date.now() + (tokens.expires_in ?? 0) * 1000,
      refreshedAt: undefined,
    });
    redirect(res, '/', { 'set-cookie': [cookie(SESSION_COOKIE, id, 8 * 3600), cookie(PENDING_COOKIE, '', 0)] });
  }

  async function refresh(session: Session, res: ServerResponse) {
    if (!session.refreshToken) return redirect(res, '/');
    const tokens = await oidc.refreshTokenGrant(config, session.refreshToken);
    session.accessToken = tokens.access_token;
    session.refreshToken = tokens.refresh_token ?? session.refreshToken;
    session.accessTokenExpiresAt = Date.now() + (tokens.expires_in ?? 0) * 1000;
    session.refreshedAt = Date.now();
    session.userinfo = await oidc.fetchUserInfo(config, session.accessToken, session.claims.sub);
    redirect(res, '/');
  }

  async function logout(id: string, session: Session | undefined, res: ServerResponse) {
    sessions.delete(id);
    if (!session) return redirect(res, '/', { 'set-cookie': cookie(SESSION_COOKIE, '', 0) });
    // An offline_access refresh token outlives the Keyhold session: revoke it, as the user is leaving.
    if (session.refreshToken) await oidc.tokenRevocation(config, session.refreshToken).catch(() => undefined);
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: session.idToken, post_logout_redirect_uri: signedOutUri });
    redirect(res, url.href, { 'set-cookie': cookie(SESSION_COOKIE, '', 0) });
  }

  function home(session: Session | undefined, res: ServerResponse) {
    if (!session) {
      return send(res, 200, `<h1>Example app</h1><p>You are not signed in.</p><p><a class="button" href="/login">Sign in with Keyhold</a></p>`);
    }
    const who = session.userinfo;
    const seconds = Math.max(0, Math.round((session.accessTokenExpiresAt - Date.now()) / 1000));
    send(
      res,
      200,
      `<h1>Example app</h1>
<p id="who">Signed in as <strong>${escape(who.name ?? who.preferred_username ?? who.sub)}</strong></p>
<dl>
  <dt>Username</dt><dd id="username">${escape(who.preferred_username)}</dd>
  <dt>Email</dt><dd id="email">${escape(who.email)}</dd>
  <dt>Subject</dt><dd><code>${escape(who.sub)}</code></dd>
  <dt>Access token</dt><dd id="expiry">expires in ${seconds} s</dd>
  <dt>Refresh token</dt><dd>${session.refreshToken ? 'held by this server' : 'none'}${session.refreshedAt ? ' <span id="refreshed">(refreshed)</span>' : ''}</dd>
</dl>
<form method="post" action="/refresh"><button type="submit">Refresh tokens</button></form>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>`,
    );
  }

  return createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', appUrl);
      const sid = cookies(req).get(SESSION_COOKIE) ?? '';
      const session = sessions.get(sid);
      const route = `${req.method} ${url.pathname}`;
      if (route === 'GET /') return home(session, res);
      if (route === 'GET /login') return await login(res);
      if (route === 'POST /callback') return await callback(req, res);
      if (route === 'POST /refresh' && session) return await refresh(session, res);
      if (route === 'POST /logout') return await logout(sid, session, res);
      if (route === 'POST /refresh') return redirect(res, '/');
      send(res, 404, '<h1>Not found</h1>');
    } catch (err) {
      console.error(err);
      if (!res.headersSent) send(res, 500, '<h1>Something went wrong</h1><p>See the app log.</p><p><a href="/">Home</a></p>');
    }
  });
}

function escape(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Example app</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}
dt{font-weight:600}dd{margin:0 0 .5rem}button,.button{display:inline-block;margin:.5rem 0;padding:.5rem 1rem;font:inherit;
border:0;border-radius:6px;background:#3b5bdb;color:#fff;text-decoration:none;cursor:pointer}</style>
</head><body>${body}</body></html>`;
}

// Run directly: `npm run example`.
if (import.meta.main) {
  const env = process.env;
  const missing = ['CLIENT_ID', 'CLIENT_SECRET'].filter((name) => !env[name]);
  if (missing.length) {
    console.error(`Set ${missing.join(' and ')} (see examples/README.md).`);
    process.exit(1);
  }
  const appUrl = env.APP_URL ?? 'http://localhost:4000';
  const server = await createExampleApp({
    issuer: env.KEYHOLD_ISSUER ?? 'http://localhost:3000',
    clientId: env.CLIENT_ID!,
    clientSecret: env.CLIENT_SECRET!,
    appUrl,
  });
  const { hostname, port } = new URL(appUrl);
  server.listen(Number(port || 80), hostname === 'localhost' ? '127.0.0.1' : hostname, () => console.log(`Example app on ${appUrl}`));
}
