import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { post, signInForTokens } from '../helpers/flow.ts';

/** REFRESH_TOKEN_REUSE_GRACE: a rotated refresh token presented once more within the grace gets the same answer. */

async function signIn(kh: TestApp, client: { clientId: string; secret: string }, creds: { username: string; password: string }) {
  return (await signInForTokens(kh, { id: client.clientId, secret: client.secret }, creds, 'openid offline_access')).refreshToken;
}

t.test('with a grace period', async (t) => {
  const kh = await startTestApp(t, { env: { REFRESH_TOKEN_REUSE_GRACE: '2' } });
  const creds = await createUser(kh.users);
  const app = await createClient(kh.clients, { allowRefreshToken: true });
  const auth = { clientId: app.client.id, secret: app.secret };
  const refresh = (token: string, who = auth) => post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: token }, who);

  t.test('a retry within the grace gets the same answer, once; a third try revokes the grant', async (t) => {
    const r0 = await signIn(kh, auth, creds);
    const first = await refresh(r0);
    t.equal(first.status, 200);
    t.not(first.body.refresh_token, r0, 'the refresh token was rotated');

    const { rows } = await kh.db.pool.query<{ token_digest: string; answer: string }>('SELECT token_digest, answer FROM refresh_token_replays');
    t.equal(rows.length, 1, 'the answer is kept for the grace');
    const stored = JSON.stringify(rows);
    for (const value of [r0, String(first.body.refresh_token), String(first.body.access_token), String(first.body.id_token)]) {
      t.notOk(stored.includes(value), 'the kept answer holds no token in the clear, nor the rotated token');
    }

    const retry = await refresh(r0);
    t.equal(retry.status, 200, 'the same refresh token, presented once more, is answered');
    t.same(retry.body, first.body, 'with the very same answer');
    t.equal(retry.headers.get('cache-control'), 'no-store');

    const third = await refresh(r0);
    t.equal(third.status, 400);
    t.equal(third.body.error, 'invalid_grant', 'a second replay is a replay');
    const after = await refresh(String(first.body.refresh_token));
    t.equal(after.body.error, 'invalid_grant', 'and it revoked the grant: the new refresh token is dead too');
  });

  t.test('after the grace, a replay revokes the grant as always', async (t) => {
    const r0 = await signIn(kh, auth, creds);
    const first = await refresh(r0);
    t.equal(first.status, 200);
    await sleep(2200);
    const late = await refresh(r0);
    t.equal(late.body.error, 'invalid_grant');
    const next = await refresh(String(first.body.refresh_token));
    t.equal(next.body.error, 'invalid_grant', 'the grant is revoked');
  });

  t.test('another client presenting the rotated token learns nothing and takes nothing', async (t) => {
    const other = await createClient(kh.clients, { name: 'Other', allowRefreshToken: true });
    const r0 = await signIn(kh, auth, creds);
    const first = await refresh(r0);
    const stolen = await refresh(r0, { clientId: other.client.id, secret: other.secret });
    t.equal(stolen.status, 400);
    t.equal(stolen.body.error, 'invalid_grant');
    t.notOk(JSON.stringify(stolen.body).includes(String(first.body.access_token)));
    const retry = await refresh(r0);
    t.same(retry.body, first.body, 'the owner still gets its answer');
  });
});

t.test('without a grace period (the default), any replay revokes the grant', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const app = await createClient(kh.clients, { allowRefreshToken: true });
  const auth = { clientId: app.client.id, secret: app.secret };
  const r0 = await signIn(kh, auth, creds);
  const first = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: r0 }, auth);
  t.equal(first.status, 200);
  const replay = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: r0 }, auth);
  t.equal(replay.body.error, 'invalid_grant');
  const next = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: String(first.body.refresh_token) }, auth);
  t.equal(next.body.error, 'invalid_grant');
  const { rowCount } = await kh.db.pool.query('SELECT 1 FROM refresh_token_replays');
  t.equal(rowCount, 0, 'nothing is kept');
});
