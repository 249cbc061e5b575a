import { createHash, randomBytes } from 'node:crypto';
import { Agent, loginForm } from './browserless.ts';
import { basicAuth } from './fixtures.ts';

/** Browserless helpers for the authorization, token and logout endpoints (test/flow/*). */

export const random = (bytes = 16) => randomBytes(bytes).toString('base64url');

export function pkce() {
  const verifier = random(32);
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A plain `code` authorization request (state, nonce and an S256 challenge whose verifier is dropped). */
export function codeRequest(clientId: string, redirectUri: string): Record<string, string> {
  return {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid',
    state: random(),
    nonce: random(),
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  };
}

export function decodeJwt(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
}

/** Where the authorization endpoint sent the browser, and the parameters it carried. */
export interface AuthorizationOutcome {
  /** query, fragment or form_post; 'page' when Keyhold answered with a page of its own. */
  via: 'query' | 'fragment' | 'form_post' | 'page';
  /** The redirect URL without its parameters (or Keyhold's URL for a page). */
  target: string;
  params: URLSearchParams;
  status: number;
  html?: string;
}

function hiddenInputs(html: string): URLSearchParams {
  const params = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) {
    params.append(m[1]!, m[2]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
  }
  return params;
}

/** Reads where a response (after following redirects inside `origin`) ends up. */
async function outcome(response: Response, url: string, origin: string): Promise<AuthorizationOutcome> {
  if (!url.startsWith(origin)) {
    const u = new URL(url);
    const via = u.hash ? 'fragment' : 'query';
    const params = new URLSearchParams(via === 'fragment' ? u.hash.slice(1) : u.search);
    u.hash = '';
    u.search = '';
    return { via, target: u.href, params, status: response.status };
  }
  const html = await response.text();
  const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
  if (response.status < 300 && action && html.includes('id="keyhold-continue"')) {
    return { via: 'form_post', target: action.replace(/&amp;/g, '&'), params: hiddenInputs(html), status: response.status, html };
  }
  return { via: 'page', target: url, params: new URLSearchParams(), status: response.status, html };
}

export interface SignInOptions {
  /** Credentials to type when the sign-in page shows; without them, the page is the outcome. */
  username?: string;
  password?: string;
  method?: 'GET' | 'POST';
}

/**
 * Sends an authorization request from `agent` and follows it: through the sign-in page when one is shown
 * and credentials are given, to the redirect URL (or to a page Keyhold renders itself).
 */
export async function authorize(
  agent: Agent,
  issuer: string,
  params: Record<string, string>,
  options: SignInOptions = {},
): Promise<AuthorizationOutcome> {
  const origin = new URL(issuer).origin;
  const authUrl = new URL(`${issuer}/auth`);
  let first;
  if (options.method === 'POST') {
    first = await agent.follow(authUrl.href, origin, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
  } else {
    authUrl.search = new URLSearchParams(params).toString();
    first = await agent.follow(authUrl.href, origin);
  }
  if (!first.url.startsWith(origin) || !/\/interaction\//.test(first.url) || first.response.status !== 200 || !options.username) {
    return outcome(first.response, first.url, origin);
  }
  const { action, csrf } = loginForm(await first.response.text());
  const submitted = await agent.follow(new URL(action, origin).href, origin, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: options.username, password: options.password ?? '', csrf }).toString(),
  });
  return outcome(submitted.response, submitted.url, origin);
}

export interface TokenCall {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs to a client-authenticated endpoint (token, introspection, revocation) with client_secret_basic or _post; `extraHeaders` e.g. X-Forwarded-For. */
export async function post(
  url: string,
  form: Record<string, string>,
  auth?: { clientId: string; secret: string; method?: 'basic' | 'post' },
  extraHeaders: Record<string, string> = {},
): Promise<TokenCall> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...extraHeaders };
  const body = new URLSearchParams(form);
  if (auth && auth.method === 'post') {
    body.set('client_id', auth.clientId);
    body.set('client_secret', auth.secret);
  } else if (auth) {
    headers.authorization = basicAuth(auth.clientId, auth.secret);
  }
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { text };
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** The redirect URL the test apps register. */
export const APP_REDIRECT = 'https://app.example.com/callback';

/**
 * Signs `creds` in through `agent` (code flow with PKCE to APP_REDIRECT): the code and its verifier.
 * `extra` adds authorization parameters (e.g. dpop_jkt).
 */
export async function signInForCode(
  agent: Agent,
  issuer: string,
  clientId: string,
  creds: { username: string; password: string },
  scope = 'openid',
  extra: Record<string, string> = {},
): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const out = await authorize(
    agent,
    issuer,
    { client_id: clientId, redirect_uri: APP_REDIRECT, response_type: 'code', scope, state: random(), code_challenge: challenge, code_challenge_method: 'S256', ...extra },
    creds,
  );
  return { code: out.params.get('code')!, verifier };
}

/**
 * Signs `creds` in to a confidential client (code flow with PKCE, browserless) and exchanges the code:
 * the access and refresh tokens (a refresh token only when the client allows it and the scope asks).
 */
export async function signInForTokens(
  kh: { issuer: string },
  client: { id: string; secret: string },
  creds: { username: string; password: string },
  scope = 'openid profile email offline_access',
  agent = new Agent(),
): Promise<{ accessToken: string; refreshToken: string }> {
  const { code, verifier } = await signInForCode(agent, kh.issuer, client.id, creds, scope);
  const res = await post(
    `${kh.issuer}/token`,
    { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT, code_verifier: verifier },
    { clientId: client.id, secret: client.secret },
  );
  if (res.status !== 200) throw new Error(`token request failed: ${JSON.stringify(res.body)}`);
  return { accessToken: String(res.body.access_token), refreshToken: String(res.body.refresh_token) };
}

export async function userinfo(issuer: string, accessToken: string) {
  const response = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.status, headers: response.headers, body: response.status === 200 ? await response.json() : await response.text() };
}

export { Agent };
