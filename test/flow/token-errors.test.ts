import t, { type Test } from 'tap';
import { digest } from '../../src/crypto/digest.ts';
import { GRANT_ERRORS, grantErrorFor } from '../../src/oidc/grant-errors.ts';
import { createProviderModelsRepo } from '../../src/repos/provider-models.ts';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { dpopKey, dpopPost, type DpopKey } from '../helpers/dpop.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, APP_REDIRECT, authorize, pkce, post, random, signInForCode, type TokenCall } from '../helpers/flow.ts';

/** The token endpoint's invalid_grant answers: one precise description per cause, and the cause in the log. */

// Written out here rather than read from the table, so a changed answer fails a test.
const CODE_UNKNOWN = 'the authorization code is not one this client can redeem: it was never issued to it, or it was revoked or expired';
const USED = 'the authorization code was already used; as a precaution, the tokens issued with it are revoked';
const REFRESH_UNKNOWN =
  'the refresh token is not one this client can use: it was never issued to it, or it was revoked (by the client, a replay, or the user being disabled or deleted) or expired';

function refused(t: Test, res: TokenCall, description: string) {
  t.equal(res.status, 400, 'status 400');
  t.equal(res.body.error, 'invalid_grant', 'error stays invalid_grant');
  t.equal(res.body.error_description, description);
}

/** The info lines the refusals logged (pino JSON). */
function refusals(kh: TestApp): Array<Record<string, unknown>> {
  return kh.logs.lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === 'token request refused: invalid_grant');
}

t.test('invalid_grant descriptions', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const app = await createClient(kh.clients, { allowRefreshToken: true });
  const other = await createClient(kh.clients, { name: 'Other', allowRefreshToken: true });
  const auth = { clientId: app.client.id, secret: app.secret };
  const otherAuth = { clientId: other.client.id, secret: other.secret };
  const token = (form: Record<string, string>, who = auth) => post(`${kh.issuer}/token`, form, who);
  const codeFor = (clientId = app.client.id, user = creds) => signInForCode(new Agent(), kh.issuer, clientId, user, 'openid offline_access');
  const exchange = (code: string, verifier: string | undefined, who = auth, redirectUri = APP_REDIRECT) =>
    token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, ...(verifier === undefined ? {} : { code_verifier: verifier }) }, who);
  const refreshTokenFor = async (user = creds) => {
    const { code, verifier } = await codeFor(app.client.id, user);
    const res = await exchange(code, verifier);
    if (res.status !== 200) throw new Error(`exchange failed: ${JSON.stringify(res.body)}`);
    return String(res.body.refresh_token);
  };
  const refresh = (refreshToken: string, who = auth) => token({ grant_type: 'refresh_token', refresh_token: refreshToken }, who);
  /** Moves a stored row's expiry into the past (it is not swept yet). */
  const expire = (where: string, values: unknown[]) =>
    kh.db.pool.query(`UPDATE oidc_payloads SET expires_at = now() - interval '1 second' WHERE ${where}`, values);

  t.test('authorization code: redirect_uri differs', async (t) => {
    const { code, verifier } = await codeFor();
    refused(t, await exchange(code, verifier, auth, 'https://app.example.com/other'), 'redirect_uri does not match the one in the authorization request');
  });

  t.test('authorization code: code_verifier missing', async (t) => {
    const { code } = await codeFor();
    refused(t, await exchange(code, undefined), 'code_verifier is missing: the authorization request sent a code_challenge (PKCE)');
  });

  t.test('authorization code: code_verifier wrong', async (t) => {
    const { code } = await codeFor();
    refused(t, await exchange(code, pkce().verifier), 'the code_verifier does not match the code_challenge of the authorization request');
  });

  t.test('authorization code: code_verifier without a code_challenge', async (t) => {
    // A confidential web client may leave PKCE out.
    const out = await authorize(
      new Agent(),
      kh.issuer,
      { client_id: app.client.id, redirect_uri: APP_REDIRECT, response_type: 'code', scope: 'openid', state: random() },
      creds,
    );
    const code = out.params.get('code')!;
    t.ok(code, 'a code without PKCE');
    refused(t, await exchange(code, pkce().verifier), 'a code_verifier was sent, but the authorization request sent no code_challenge');
  });

  t.test('authorization code: already used', async (t) => {
    const { code, verifier } = await codeFor();
    t.equal((await exchange(code, verifier)).status, 200, 'the first exchange succeeds');
    refused(t, await exchange(code, verifier), 'the authorization code was already used; as a precaution, the tokens issued with it are revoked');
  });

  t.test('authorization code: redeemed concurrently, the losers are told it was used', async (t) => {
    // Losers of the race in the adapter's atomic consume carry Keyhold's own detail, not the engine's.
    // A few rounds, so that some loser surely lost there rather than at the engine's own check.
    for (let round = 0; round < 3; round++) {
      const { code, verifier } = await codeFor();
      const results = await Promise.all(Array.from({ length: 8 }, () => exchange(code, verifier)));
      t.equal(results.filter((r) => r.status === 200).length, 1, 'one wins');
      const losers = results.filter((r) => r.status !== 200);
      t.ok(losers.every((r) => r.status === 400 && r.body.error === 'invalid_grant'), 'the others get invalid_grant');
      // A late loser may find the code already gone with its grant, revoked by an earlier loser.
      const told = losers.map((r) => r.body.error_description);
      t.ok(told.every((d) => d === USED || d === CODE_UNKNOWN), `each told it was used or is gone: ${JSON.stringify([...new Set(told)])}`);
      t.ok(told.includes(USED), 'at least one told it was used');
    }
  });

  t.test('authorization code: expired', async (t) => {
    const { code, verifier } = await codeFor();
    await expire(`model = 'AuthorizationCode' AND id = $1`, [digest(code)]);
    refused(t, await exchange(code, verifier), 'the authorization code has expired: redeem it as soon as the redirect arrives, or start a new authorization request');
    // The periodic sweep keeps it a while, so a developer redeeming it minutes later is still told why.
    await createProviderModelsRepo(kh.db.pool).deleteExpired();
    refused(t, await exchange(code, verifier), 'the authorization code has expired: redeem it as soon as the redirect arrives, or start a new authorization request');
  });

  t.test('authorization code: never issued', async (t) => {
    refused(t, await exchange(random(32), pkce().verifier), CODE_UNKNOWN);
  });

  t.test("authorization code: another client's, answered as unknown", async (t) => {
    const { code, verifier } = await codeFor(other.client.id);
    refused(t, await exchange(code, verifier), CODE_UNKNOWN);
    // Expired, it is still not this client's business.
    await expire(`model = 'AuthorizationCode' AND id = $1`, [digest(code)]);
    refused(t, await exchange(code, verifier), CODE_UNKNOWN);
    t.equal((await exchange(code, verifier, otherAuth)).body.error_description, 'the authorization code has expired: redeem it as soon as the redirect arrives, or start a new authorization request', 'its own client is told it expired');
  });

  t.test('refresh token: already used (rotated)', async (t) => {
    const r0 = await refreshTokenFor();
    t.equal((await refresh(r0)).status, 200, 'the first refresh succeeds');
    refused(
      t,
      await refresh(r0),
      'the refresh token was already used (each refresh returns a new one); as a precaution, the grant and every token issued under it are revoked',
    );
  });

  t.test('refresh token: expired', async (t) => {
    const r0 = await refreshTokenFor();
    await expire(`model = 'RefreshToken' AND id = $1`, [digest(r0)]);
    refused(t, await refresh(r0), 'the refresh token has expired: the user must sign in again');
  });

  t.test('refresh token: revoked, or never issued', async (t) => {
    const r0 = await refreshTokenFor();
    t.equal((await post(`${kh.issuer}/token/revocation`, { token: r0, token_type_hint: 'refresh_token' }, auth)).status, 200, 'revoked');
    refused(t, await refresh(r0), REFRESH_UNKNOWN);
    refused(t, await refresh(random(32)), REFRESH_UNKNOWN);
  });

  t.test("refresh token: another client's, answered as unknown", async (t) => {
    const r0 = await refreshTokenFor();
    refused(t, await refresh(r0, otherAuth), REFRESH_UNKNOWN);
    t.equal((await refresh(r0)).status, 200, 'and it still works for its own client');
  });

  t.test('refresh token: its grant ended', async (t) => {
    const r0 = await refreshTokenFor();
    const { rows } = await kh.db.pool.query<{ grant_id: string }>(`SELECT grant_id FROM oidc_payloads WHERE model = 'RefreshToken' AND id = $1`, [digest(r0)]);
    await expire(`model = 'Grant' AND grant_id = $1`, [rows[0]!.grant_id]);
    refused(t, await refresh(r0), 'the grant behind this authorization code or refresh token has ended (it expired or was revoked): the user must sign in again');
  });

  t.test('refresh token: the user was disabled', async (t) => {
    // Straight in the repository, the tokens stay (the engine finds no account for them) ...
    const user = await createUser(kh.users);
    const r0 = await refreshTokenFor(user);
    await kh.users.update(user.user.id, { disabled: true });
    refused(t, await refresh(r0), 'the user this refresh token was issued for is disabled or no longer exists');

    // ... through the admin API they end with the user, so the token is simply unknown.
    const again = await createUser(kh.users);
    const r1 = await refreshTokenFor(again);
    const { api } = await adminToken(kh);
    t.equal((await api('PATCH', `/users/${again.user.id}`, { disabled: true })).status, 200);
    refused(t, await refresh(r1), REFRESH_UNKNOWN);
  });

  t.test('authorization code: the user was disabled before it was redeemed', async (t) => {
    const user = await createUser(kh.users);
    const { code, verifier } = await codeFor(app.client.id, user);
    await kh.users.update(user.user.id, { disabled: true });
    refused(t, await exchange(code, verifier), 'the user this authorization code was issued for is disabled or no longer exists');
  });

  // DPoP (RFC 9449): an authorization request naming a key with dpop_jkt binds its code to that key.
  const url = `${kh.issuer}/token`;
  const boundCode = async (key: DpopKey, clientId = app.client.id) =>
    signInForCode(new Agent(), kh.issuer, clientId, creds, 'openid offline_access', { dpop_jkt: key.jkt });
  const codeForm = ({ code, verifier }: { code: string; verifier: string }) => ({ grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT, code_verifier: verifier });

  t.test('authorization code: bound by dpop_jkt, redeemed without a DPoP proof', async (t) => {
    const key = await dpopKey();
    const { code, verifier } = await boundCode(key);
    t.ok(code, 'a code for an authorization request with dpop_jkt');
    refused(t, await exchange(code, verifier), 'a DPoP proof is required (the authorization request named a key with dpop_jkt); the code is now used up: start a new authorization request');
    // The engine checks the proof only after it used the code up: the corrected retry is told so.
    refused(t, await dpopPost(url, codeForm({ code, verifier }), key, auth), USED);
  });

  t.test('authorization code: bound by dpop_jkt, redeemed with a proof from another key', async (t) => {
    const key = await dpopKey();
    const bound = await boundCode(key);
    refused(t, await dpopPost(url, codeForm(bound), await dpopKey(), auth), 'the DPoP proof is not signed with the key named by dpop_jkt in the authorization request; the code is now used up: start a new authorization request');
    refused(t, await dpopPost(url, codeForm(bound), key, auth), USED);
  });

  t.test('authorization code: bound by dpop_jkt, redeemed with a proof from its key', async (t) => {
    const key = await dpopKey();
    const res = await dpopPost(url, codeForm(await boundCode(key)), key, auth);
    t.equal(res.status, 200, 'the code is redeemed');
    t.equal(res.body.token_type, 'DPoP', 'for a DPoP-bound access token');
    // A confidential client's refresh token is bound to its client authentication, not to the DPoP key
    // (RFC 9449, section 5): a proof from another key is accepted and binds the new access token to it.
    const again = await dpopPost(url, { grant_type: 'refresh_token', refresh_token: String(res.body.refresh_token) }, await dpopKey(), auth);
    t.equal(again.status, 200, "a confidential client's refresh token is not bound to the key");
  });

  t.test("refresh token: a public client's, bound to its DPoP key, refreshed with a proof from another key", async (t) => {
    // The engine binds refresh tokens to the DPoP key for public clients only.
    const { client: spa } = await kh.clients.create({ type: 'authorization-code', name: 'SPA', redirectUris: [APP_REDIRECT] });
    const key = await dpopKey();
    const tokens = await dpopPost(url, { ...codeForm(await boundCode(key, spa.id)), client_id: spa.id }, key);
    t.equal(tokens.status, 200, 'the code is redeemed');
    t.equal(tokens.body.token_type, 'DPoP');
    const form = { grant_type: 'refresh_token', refresh_token: String(tokens.body.refresh_token), client_id: spa.id };
    const BOUND = 'the refresh token is bound to a DPoP key: send a DPoP proof signed with that key';
    refused(t, await dpopPost(url, form, await dpopKey()), BOUND);
    refused(t, await post(url, form), BOUND);
    const refreshed = await dpopPost(url, form, key);
    t.equal(refreshed.status, 200, 'with a proof from its key, it refreshes');
    t.equal(refreshed.body.token_type, 'DPoP');
  });
});

t.test('the cause is logged at info, with the client and grant type, and no value', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const app = await createClient(kh.clients, { allowRefreshToken: true });
  const other = await createClient(kh.clients, { name: 'Other' });
  const auth = { clientId: app.client.id, secret: app.secret };

  const { code, verifier } = await signInForCode(new Agent(), kh.issuer, app.client.id, creds);
  const wrong = pkce().verifier;
  const res = await post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT, code_verifier: wrong }, auth);
  t.equal(res.status, 400);

  const theirs = await signInForCode(new Agent(), kh.issuer, other.client.id, creds);
  await post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code: theirs.code, redirect_uri: APP_REDIRECT, code_verifier: theirs.verifier }, auth);

  const lines = refusals(kh);
  t.match(lines, [
    { level: 30, clientId: app.client.id, grantType: 'authorization_code', cause: 'code_verifier_mismatch' },
    { level: 30, clientId: app.client.id, grantType: 'authorization_code', cause: 'code_client_mismatch' },
  ]);
  t.equal(lines.length, 2, 'one line per refusal');
  const logged = kh.logs.text;
  for (const value of [code, verifier, wrong, app.secret, theirs.code, theirs.verifier]) {
    t.notOk(logged.includes(value), 'no code, verifier or secret in the log');
  }
});

t.test('a replay answered from the refresh grace is neither rewritten nor logged', async (t) => {
  const kh = await startTestApp(t, { env: { REFRESH_TOKEN_REUSE_GRACE: '5' } });
  const creds = await createUser(kh.users);
  const app = await createClient(kh.clients, { allowRefreshToken: true });
  const auth = { clientId: app.client.id, secret: app.secret };
  const { code, verifier } = await signInForCode(new Agent(), kh.issuer, app.client.id, creds, 'openid offline_access');
  const tokens = await post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: APP_REDIRECT, code_verifier: verifier }, auth);
  const r0 = String(tokens.body.refresh_token);
  const first = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: r0 }, auth);
  const retry = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: r0 }, auth);
  t.equal(retry.status, 200);
  t.same(retry.body, first.body);
  t.equal(refusals(kh).length, 0, 'nothing logged as refused');
});

t.test('the table', async (t) => {
  for (const row of GRANT_ERRORS) {
    if (row.answerAs) t.ok(GRANT_ERRORS.some((r) => r.cause === row.answerAs && r.description), `${row.cause} is answered as a cause with a description`);
    t.notOk(GRANT_ERRORS.some((r) => r !== row && r.cause === row.cause), `${row.cause} appears once`);
  }
  t.equal(grantErrorFor('authorization_code', 'something the engine says one day'), undefined, "an unknown detail keeps the engine's text");
  t.equal(grantErrorFor('refresh_token', 'client mismatch')?.cause, 'refresh_client_mismatch', 'a shared detail is told apart by grant type');
});
