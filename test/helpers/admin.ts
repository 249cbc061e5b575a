import { CONSOLE_CALLBACK_PATH, CONSOLE_CLIENT_ID } from '../../src/oidc/provider.ts';
import type { TestApp } from './app.ts';
import { createClient, createUser } from './fixtures.ts';
import { loginForm } from './browserless.ts';
import { Agent, pkce, post, random } from './flow.ts';

/** Helpers for the admin API tests (test/http/admin-*.test.ts, test/cli/*). */

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export type Api = (method: string, path: string, body?: unknown, init?: { headers?: Record<string, string>; raw?: string }) => Promise<ApiAnswer>;

/** Calls `${origin}/api/v1${path}` with a bearer token; `body` is sent as JSON, `raw` as it is. */
export function apiFor(kh: { origin: string }, token: string | undefined): Api {
  return async (method, path, body, init = {}) => {
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}) };
    let payload: string | undefined;
    if (init.raw !== undefined) payload = init.raw;
    else if (body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, init.headers);
    return answerOf(await fetch(`${kh.origin}/api/v1${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) }));
  };
}

/** A response read whole: its text, and its body parsed as JSON when it is JSON. */
export async function answerOf(response: Response): Promise<ApiAnswer> {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** A client_credentials grant at the token endpoint. */
export function clientCredentials(kh: TestApp, clientId: string, secret: string, scope = 'admin') {
  return post(`${kh.issuer}/token`, { grant_type: 'client_credentials', ...(scope ? { scope } : {}) }, { clientId, secret });
}

/** An automation client (client-credentials, role admin) made in the database, and an admin token of its own. */
export async function adminToken(kh: TestApp): Promise<{ token: string; clientId: string; secret: string; api: Api }> {
  const { client, secret } = await createClient(kh.clients, {
    type: 'client-credentials',
    name: 'Automation',
    roles: ['admin'],
    redirectUris: [],
    postLogoutRedirectUris: [],
  });
  const answer = await clientCredentials(kh, client.id, secret);
  if (answer.status !== 200) throw new Error(`no admin token: ${JSON.stringify(answer.body)}`);
  const token = answer.body.access_token as string;
  return { token, clientId: client.id, secret, api: apiFor(kh, token) };
}

/** Signs a user in through the admin console's client (PKCE, public) and returns its access token. */
export async function consoleToken(kh: TestApp, username: string, password: string): Promise<{ token: string; scope: string }> {
  const { verifier, challenge } = pkce();
  const redirectUri = `${kh.origin}${CONSOLE_CALLBACK_PATH}`;
  const agent = new Agent();
  const authUrl = new URL(`${kh.issuer}/auth`);
  authUrl.search = new URLSearchParams({
    client_id: CONSOLE_CLIENT_ID,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile admin',
    state: random(),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  // The console's callback is on Keyhold's own origin: follow redirects by hand and stop there.
  const follow = async (url: string, init?: RequestInit) => {
    let current = url;
    let response = await agent.fetch(current, init);
    while (response.status >= 300 && response.status < 400 && !current.startsWith(redirectUri)) {
      current = new URL(response.headers.get('location')!, current).href;
      if (current.startsWith(redirectUri)) break;
      response = await agent.fetch(current);
    }
    return { response, url: current };
  };
  const page = await follow(authUrl.href);
  const { action, csrf } = loginForm(await page.response.text());
  const done = await follow(new URL(action, kh.origin).href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, csrf }).toString(),
  });
  const code = new URL(done.url).searchParams.get('code');
  if (!code) throw new Error(`console sign-in failed at ${done.url}`);
  const answer = await post(`${kh.issuer}/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: CONSOLE_CLIENT_ID,
  });
  if (answer.status !== 200) throw new Error(`console token exchange failed: ${JSON.stringify(answer.body)}`);
  return { token: answer.body.access_token as string, scope: answer.body.scope as string };
}

/** A user with the admin role, signed in through the console. */
export async function adminUserToken(kh: TestApp) {
  const { user, username, password } = await createUser(kh.users, { roles: ['admin'] });
  const { token } = await consoleToken(kh, username, password);
  return { user, token, api: apiFor(kh, token) };
}
