import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, APP_REDIRECT as REDIRECT, post, signInForCode, userinfo } from '../helpers/flow.ts';

/** Single use of codes and refresh tokens holds under concurrent redemption. */

t.test('concurrent redemption', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const { client, secret } = await createClient(kh.clients, { allowRefreshToken: true });
  const auth = { clientId: client.id, secret };
  const agent = new Agent();

  const freshCode = (scope = 'openid') => signInForCode(agent, kh.issuer, client.id, creds, scope);
  const redeem = (code: string, verifier: string) =>
    post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);

  // Warm the secret cache so the race is about the code, not about argon2.
  const warm = await freshCode();
  t.equal((await redeem(warm.code, warm.verifier)).status, 200);

  t.test('20 parallel redemptions of one code: exactly one success', async (t) => {
    const { code, verifier } = await freshCode();
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem(code, verifier)));
    const wins = results.filter((r) => r.status === 200);
    t.equal(wins.length, 1, 'exactly one success');
    t.ok(
      results.filter((r) => r.status !== 200).every((r) => r.status === 400 && r.body.error === 'invalid_grant'),
      'every other attempt gets invalid_grant',
    );
    t.equal((await userinfo(kh.issuer, String(wins[0]!.body.access_token))).status, 401, 'the replays revoked what the code produced');
  });

  t.test('two parallel refreshes of one token: at most one success', async (t) => {
    for (let round = 0; round < 5; round++) {
      const { code, verifier } = await freshCode('openid offline_access');
      const tokens = await redeem(code, verifier);
      const refreshToken = String(tokens.body.refresh_token);
      t.ok(tokens.body.refresh_token, `round ${round}: a refresh token`);
      const results = await Promise.all(
        [0, 1].map(() => post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, auth)),
      );
      const wins = results.filter((r) => r.status === 200);
      t.ok(wins.length <= 1, `round ${round}: at most one success`);
      t.ok(
        results.filter((r) => r.status !== 200).every((r) => r.body.error === 'invalid_grant'),
        `round ${round}: the other gets invalid_grant`,
      );
    }
  });
});
