import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, pkce, post } from '../helpers/flow.ts';

const REDIRECT = 'https://app.example.com/callback';

t.test('a parameter Postgres cannot store (U+0000) is an invalid_request, not a 500', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const { client } = await createClient(kh.clients);
  const request = (extra: Record<string, string>) => ({
    client_id: client.id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    state: 'st',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  const interactions = async () => (await kh.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM oidc_payloads WHERE model = 'Interaction'`)).rows[0]!.n;

  const before = await interactions();
  for (const extra of [{ state: 'a\u0000b' }, { nonce: '\u0000' }, { login_hint: 'x\u0000' }] as Array<Record<string, string>>) {
    const out = await authorize(new Agent(), kh.issuer, request(extra));
    t.equal(out.target, REDIRECT, `${JSON.stringify(extra)}: the error goes to the app`);
    t.equal(out.params.get('error'), 'invalid_request');
  }
  t.equal(await interactions(), before, 'no interaction was stored');

  // Signed in, the request reaches the code, which stores the nonce and the state.
  const agent = new Agent();
  t.ok((await authorize(agent, kh.issuer, request({}), creds)).params.get('code'), 'signed in');
  const refused = await authorize(agent, kh.issuer, request({ nonce: 'n\u0000' }));
  t.equal(refused.params.get('error'), 'invalid_request', 'a nonce holding U+0000: invalid_request');
  t.notOk(refused.params.get('code'));
  const echoed = await authorize(agent, kh.issuer, request({ state: 'a\u0000b' }));
  t.ok(echoed.params.get('code'), 'a state holding U+0000 is not stored with the code: a code');
  t.equal(echoed.params.get('state'), 'a\u0000b', 'and the state comes back as sent');
  t.ok((await authorize(agent, kh.issuer, request({}))).params.get('code'), 'still signed in: a well-formed request gets a code');

  const html = await fetch(`${kh.issuer}/session/end?state=%00`, { headers: { accept: 'text/html' } });
  t.equal(html.status, 400, 'end-session: 400');
  t.match(html.headers.get('content-type'), /^text\/html/);
  t.match(await html.text(), /Sign-out could not continue[\s\S]*invalid_request/);
  const json = await fetch(`${kh.issuer}/session/end?state=%00`);
  t.equal(json.status, 400);
  t.match(await json.json(), { error: 'invalid_request', error_description: /U\+0000/ });
});

t.test('a resource indicator at the token endpoint uses up neither the code nor the refresh token', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const { client, secret } = await createClient(kh.clients, { allowRefreshToken: true });
  const auth = { clientId: client.id, secret };
  const { verifier, challenge } = pkce();
  const out = await authorize(
    new Agent(),
    kh.issuer,
    { client_id: client.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256' },
    creds,
  );
  const code = out.params.get('code')!;
  const resource = 'https://api.example.com/';
  const exchanged = await post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, resource }, auth);
  t.equal(exchanged.status, 200, 'the code is redeemed (Keyhold has no resource servers: the indicator is ignored)');
  const refreshed = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: String(exchanged.body.refresh_token), resource }, auth);
  t.equal(refreshed.status, 200, 'the refresh token is redeemed');
  const again = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: String(refreshed.body.refresh_token) }, auth);
  t.equal(again.status, 200, 'the rotated refresh token works: the grant was not revoked');
});
