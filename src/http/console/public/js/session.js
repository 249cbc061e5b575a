// Sign-in through Keyhold's own authorization-code flow with PKCE (public client
// `keyhold-admin-console`); the access token lives in sessionStorage, for this tab only.

const SESSION_KEY = 'keyhold.console.session';
const PENDING_KEY = 'keyhold.console.pending';
export const SIGNED_OUT_STATE = 'signed-out';

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomString = (n = 32) => b64url(crypto.getRandomValues(new Uint8Array(n)));

/** An error the console shows as a page of its own: a title and a sentence. */
export class UserFacing extends Error {
  constructor(title, message) {
    super(message);
    this.title = title;
  }
}

function decodeJwt(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

export function createSession(config, discovery) {
  let current;

  function load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
      current = saved && saved.expiresAt > Date.now() + 30_000 ? saved : undefined;
    } catch {
      current = undefined;
    }
    return current;
  }

  /** Leaves for the sign-in page; the console comes back to `returnTo` (a hash route). */
  async function signIn(returnTo = location.hash) {
    const verifier = randomString(32);
    const pending = { verifier, state: randomString(16), nonce: randomString(16), returnTo };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: config.clientId,
      response_type: 'code',
      redirect_uri: config.redirectUri,
      scope: `openid profile email ${config.adminScope}`,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    location.assign(url.href);
  }

  /** Handles /admin/callback: checks state (and iss), exchanges the code, stores the tokens. */
  async function finishSignIn() {
    const params = new URLSearchParams(location.search);
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null');
    sessionStorage.removeItem(PENDING_KEY);
    history.replaceState(null, '', '/admin/');
    if (params.get('error')) {
      const cancelled = params.get('error') === 'access_denied';
      throw new UserFacing(
        cancelled ? 'Sign-in was cancelled' : 'Sign-in did not complete',
        cancelled ? 'You cancelled the sign-in.' : `Keyhold answered: ${params.get('error_description') ?? params.get('error')}.`,
      );
    }
    if (!pending || params.get('state') !== pending.state || !params.get('code')) {
      throw new UserFacing('Sign-in did not complete', 'The answer from the sign-in page does not belong to this browser tab. Start again.');
    }
    if (params.get('iss') && params.get('iss') !== config.issuer) {
      throw new UserFacing('Sign-in did not complete', 'The answer came from an unexpected issuer.');
    }
    const response = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code'),
        redirect_uri: config.redirectUri,
        client_id: config.clientId,
        code_verifier: pending.verifier,
      }),
    });
    const tokens = await response.json().catch(() => ({}));
    if (!response.ok || !tokens.access_token) {
      throw new UserFacing('Sign-in did not complete', `The token endpoint refused the code (${tokens.error_description ?? tokens.error ?? response.status}). Start again.`);
    }
    const claims = tokens.id_token ? decodeJwt(tokens.id_token) : {};
    if (tokens.id_token && claims.nonce !== pending.nonce) {
      throw new UserFacing('Sign-in did not complete', 'The ID token does not match this sign-in. Start again.');
    }
    // Profile claims come from userinfo (the ID token carries only `sub` when an access token is issued).
    const profile = discovery.userinfo_endpoint
      ? await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })
          .then((r) => (r.ok ? r.json() : {}))
          .catch(() => ({}))
      : {};
    current = {
      accessToken: tokens.access_token,
      expiresAt: Date.now() + (Number(tokens.expires_in) || 300) * 1000,
      idToken: tokens.id_token,
      scopes: String(tokens.scope ?? '').split(' '),
      name: profile.preferred_username || profile.name || claims.sub,
    };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(current));
    history.replaceState(null, '', `/admin/${pending.returnTo || '#/clients'}`);
  }

  /** Forgets the token (it was refused): the next request needs a new sign-in. */
  function end() {
    sessionStorage.removeItem(SESSION_KEY);
    current = undefined;
  }

  function signOut() {
    const idToken = current?.idToken;
    end();
    if (!discovery.end_session_endpoint) return location.assign('/admin/');
    const url = new URL(discovery.end_session_endpoint);
    url.search = new URLSearchParams({
      client_id: config.clientId,
      post_logout_redirect_uri: config.postLogoutRedirectUri,
      state: SIGNED_OUT_STATE,
      ...(idToken ? { id_token_hint: idToken } : {}),
    }).toString();
    location.assign(url.href);
  }

  return {
    load,
    signIn,
    finishSignIn,
    end,
    signOut,
    get current() {
      return current;
    },
    isAdmin: () => Boolean(current?.scopes.includes(config.adminScope)),
  };
}
