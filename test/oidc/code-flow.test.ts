import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { Agent, loginForm } from '../helpers/browserless.ts';
import { basicAuth, createClient, createUser } from '../helpers/fixtures.ts';

const b64url = (buf: Buffer) => buf.toString('base64url');

for (const issuerPath of ['', '/oidc']) {
  t.test(`authorization code sign-in over real HTTP (issuer path "${issuerPath}")`, async (t) => {
    const kh = await startTestApp(t, { issuerPath });
    const { client, secret } = await createClient(kh.clients);
    const { user, username, password } = await createUser(kh.users);

    const discovery = await (await fetch(`${kh.issuer}/.well-known/openid-configuration`)).json();
    t.equal(discovery.issuer, kh.issuer, 'discovery is at the issuer path');
    t.equal(discovery.authorization_endpoint, `${kh.issuer}/auth`);
    t.equal(discovery.token_endpoint, `${kh.issuer}/token`);

    const verifier = b64url(randomBytes(32));
    const state = b64url(randomBytes(8));
    const nonce = b64url(randomBytes(8));
    const authUrl = new URL(discovery.authorization_endpoint);
    authUrl.search = new URLSearchParams({
      client_id: client.id,
      response_type: 'code',
      redirect_uri: 'https://app.example.com/callback',
      scope: 'openid profile email',
      state,
      nonce,
      code_challenge: b64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
    }).toString();

    const agent = new Agent();
    const toLogin = await agent.follow(authUrl.href, kh.origin);
    t.equal(toLogin.response.status, 200, 'the sign-in page is shown');
    t.match(toLogin.url, /\/interaction\/[\w-]+$/);
    const page = await toLogin.response.text();
    t.match(page, /<label for="username">/);
    t.match(page, /autocomplete="current-password"/);

    const { action, csrf } = loginForm(page);
    const submitted = await agent.follow(new URL(action, kh.origin).href, kh.origin, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username, password, csrf }).toString(),
    });
    t.match(submitted.url, /^https:\/\/app\.example\.com\/callback\?/, 'the browser goes back to the app');
    const callback = new URL(submitted.url);
    t.equal(callback.searchParams.get('state'), state);
    t.equal(callback.searchParams.get('iss'), kh.issuer);
    const code = callback.searchParams.get('code');
    t.ok(code, 'a code came back');

    const tokenResponse = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { authorization: basicAuth(client.id, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: code!,
        redirect_uri: 'https://app.example.com/callback',
        code_verifier: verifier,
      }),
    });
    t.equal(tokenResponse.status, 200);
    t.equal(tokenResponse.headers.get('cache-control'), 'no-store');
    const tokens = await tokenResponse.json();
    t.equal(tokens.token_type, 'Bearer');
    t.equal(tokens.expires_in, 3600);
    t.ok(tokens.access_token);
    t.ok(tokens.id_token);
    t.notOk(tokens.refresh_token, 'no refresh token: the client does not allow it');
    const idClaims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
    t.equal(idClaims.sub, user.id);
    t.equal(idClaims.nonce, nonce);
    t.equal(idClaims.aud, client.id);

    const userinfo = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    t.equal(userinfo.status, 200);
    t.match(await userinfo.json(), { sub: user.id, preferred_username: username, email: `${username}@example.com` });

    const wrongSecret = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { authorization: basicAuth(client.id, 'not-the-secret'), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: 'https://app.example.com/callback', code_verifier: verifier }),
    });
    t.equal(wrongSecret.status, 401, 'a wrong secret is refused');
    t.notMatch(kh.logs.text, password, 'the password never reaches the logs');
    t.notMatch(kh.logs.text, secret, 'the client secret never reaches the logs');
  });
}
