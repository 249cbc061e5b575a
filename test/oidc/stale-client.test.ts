import t from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, pkce, post, random } from '../helpers/flow.ts';

const REDIRECT = 'https://app.example.com/callback';
const OTHER = 'https://app.example.com/other';

/**
 * A change whose notification has not reached the instance yet: written straight into the database,
 * version bumped as every change does, and no NOTIFY. The instance keeps serving its cached copy, and
 * must still never act on the client as it was (the version is checked in the statements it makes anyway).
 */
async function changeUnannounced(kh: TestApp, clientId: string, set: string, params: unknown[] = []) {
  await kh.db.pool.query(`UPDATE clients SET ${set}, version = version + 1 WHERE id = $1`, [clientId, ...params]);
}

t.test('an instance whose cached client is stale never acts on it', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const service = await createClient(kh.clients, { type: 'client-credentials', name: 'Service', redirectUris: [], postLogoutRedirectUris: [] });
  const web = await createClient(kh.clients, { redirectUris: [REDIRECT, OTHER] });
  const cc = () => post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId: service.client.id, secret: service.secret });
  const agent = new Agent();
  const codeFor = async (redirectUri: string) => {
    const { verifier, challenge } = pkce();
    const out = await authorize(
      agent,
      kh.issuer,
      { client_id: web.client.id, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state: random(), nonce: random(), code_challenge: challenge, code_challenge_method: 'S256' },
      creds,
    );
    return { out, code: out.params.get('code'), verifier };
  };
  const exchange = (code: string, verifier: string, redirectUri = REDIRECT) =>
    post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }, { clientId: web.client.id, secret: web.secret });

  t.test('client_credentials: disabled elsewhere, refused here on the next request', async (t) => {
    t.equal((await cc()).status, 200);
    t.equal((await cc()).status, 200, 'served from the cache');
    await changeUnannounced(kh, service.client.id, 'enabled = false');
    const refused = await cc();
    t.equal(refused.status, 401, 'the token write found the client changed, re-read it, and refused');
    t.equal(refused.body.error, 'invalid_client');
    await changeUnannounced(kh, service.client.id, 'enabled = true');
    t.equal((await cc()).status, 200, 'enabled again elsewhere: served at once (a refusal is never taken from the cache)');
  });

  t.test('code exchange: the client disabled between sign-in and exchange gets no token', async (t) => {
    const warm = await codeFor(REDIRECT);
    t.equal((await exchange(warm.code!, warm.verifier)).status, 200, 'warm-up: the client is cached');
    const { code, verifier } = await codeFor(REDIRECT);
    t.ok(code);
    await changeUnannounced(kh, web.client.id, 'enabled = false');
    const refused = await exchange(code!, verifier);
    t.equal(refused.status, 401, 'the code read showed the client changed; the token write re-checked it');
    t.equal(refused.body.error, 'invalid_client');
    t.notOk(refused.body.access_token);
    await changeUnannounced(kh, web.client.id, 'enabled = true');
  });

  t.test('a redirect URL removed elsewhere gets no code here', async (t) => {
    const warm = await codeFor(OTHER);
    t.ok(warm.code, 'warm-up: the URL works while registered');
    await changeUnannounced(kh, web.client.id, 'redirect_uris = $2', [[REDIRECT]]);
    const { out, code } = await codeFor(OTHER);
    t.notOk(code, 'no code is issued for the removed URL');
    t.not(out.params.get('error'), null, `the request ends with an error (${out.params.get('error')}: ${out.params.get('error_description')})`);
    const fresh = await codeFor(OTHER);
    t.notOk(fresh.code, 'and the next request refuses the URL outright');
    t.equal(fresh.out.via, 'page', 'on a page of its own, not a redirect to the removed URL');
  });

  t.test('a renamed client goes on serving requests in flight', async (t) => {
    const { code, verifier } = await codeFor(REDIRECT);
    await changeUnannounced(kh, web.client.id, "name = 'Renamed'");
    t.equal((await exchange(code!, verifier)).status, 200, 'a change the request was not checked against does not end it');
  });
});
