import t from 'tap';
import type { Adapter } from 'oidc-provider';
import { digest } from '../../src/crypto/digest.ts';
import { createAdapterFactory } from '../../src/oidc/adapter.ts';
import { createClientCache } from '../../src/oidc/client-cache.ts';
import { createClientsRepo } from '../../src/repos/clients.ts';
import { createProviderModelsRepo } from '../../src/repos/provider-models.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { createClient } from '../helpers/fixtures.ts';

t.test('the Postgres adapter honours oidc-provider\'s contract', async (t) => {
  const db = await createTestDatabase(t);
  const models = createProviderModelsRepo(db.pool);
  const clients = createClientsRepo(db.pool);
  // Not live: every client is read through, as while the LISTEN connection is down.
  const cache = createClientCache({ clients, isLive: () => false, placeholderSecret: 'placeholder' });
  const factory = createAdapterFactory({ models, clients: cache });
  const codes: Adapter = factory('AuthorizationCode');
  const sessions: Adapter = factory('Session');
  const deviceCodes: Adapter = factory('DeviceCode');
  const grants: Adapter = factory('Grant');

  t.test('upsert then find returns the payload; upsert replaces it', async (t) => {
    await codes.upsert('code-1', { jti: 'code-1', grantId: 'g1', kind: 'AuthorizationCode' } as never, 60);
    t.match(await codes.find('code-1'), { jti: 'code-1', grantId: 'g1' });
    t.notOk((await codes.find('code-1'))?.consumed, 'not consumed yet');
    await codes.upsert('code-1', { jti: 'code-1', grantId: 'g1', kind: 'AuthorizationCode', scope: 'openid' } as never, 60);
    t.match(await codes.find('code-1'), { scope: 'openid' });
    t.equal(await codes.find('missing'), undefined);
    t.equal(await factory('AccessToken').find('code-1'), undefined, 'models are separate namespaces');
  });

  t.test('findByUid and findByUserCode', async (t) => {
    await sessions.upsert('sess-1', { jti: 'sess-1', uid: 'uid-1', accountId: 'acc-1' } as never, 60);
    const byUid = await sessions.findByUid('uid-1');
    t.match(byUid, { uid: 'uid-1', accountId: 'acc-1' });
    t.notOk(byUid?.jti, 'a session found by uid does not learn its id (only its digest is stored)');
    t.equal(await sessions.findByUid('uid-2'), undefined);
    await deviceCodes.upsert('dc-1', { jti: 'dc-1', userCode: 'ABCD-EFGH' } as never, 60);
    t.match(await deviceCodes.findByUserCode('ABCD-EFGH'), { userCode: 'ABCD-EFGH' });
    t.equal(await deviceCodes.findByUserCode('ZZZZ-ZZZZ'), undefined);
  });

  t.test('expired instances are not found; the sweeper removes them, codes and refresh tokens only after a while', async (t) => {
    const refreshTokens: Adapter = factory('RefreshToken');
    const interactions: Adapter = factory('Interaction');
    await codes.upsert('short', { jti: 'short' } as never, 1);
    await refreshTokens.upsert('short-rt', { jti: 'short-rt' } as never, 1);
    await interactions.upsert('short-int', { jti: 'short-int' } as never, 1);
    t.ok(await codes.find('short'));
    await new Promise((r) => setTimeout(r, 1100));
    t.equal(await codes.find('short'), undefined, 'a code is gone once expired');
    t.equal(await refreshTokens.find('short-rt'), undefined, 'so is a refresh token');
    const left = async (key: string) => (await db.pool.query('SELECT 1 FROM oidc_payloads WHERE id = $1', [digest(key)])).rowCount;
    t.ok((await models.deleteExpired()) >= 1, 'the sweep deleted something');
    t.equal(await left('short-int'), 0, 'an expired interaction is deleted at once');
    t.equal(await left('short'), 1, 'an expired code is kept (the token endpoint can say it expired)');
    t.equal(await left('short-rt'), 1, 'so is an expired refresh token');
    t.equal(await codes.find('short'), undefined, 'a kept code is still never found');

    // Past the time each is kept.
    await db.pool.query(`UPDATE oidc_payloads SET expires_at = now() - interval '16 minutes' WHERE id = ANY ($1)`, [[digest('short'), digest('short-rt')]]);
    await models.deleteExpired();
    t.equal(await left('short'), 0, 'a code 15 minutes past its expiry is deleted');
    t.equal(await left('short-rt'), 1, 'a refresh token is kept for a day');
    await db.pool.query(`UPDATE oidc_payloads SET expires_at = now() - interval '25 hours' WHERE id = $1`, [digest('short-rt')]);
    await models.deleteExpired();
    t.equal(await left('short-rt'), 0, 'a refresh token a day past its expiry is deleted');
  });

  t.test('consume marks consumed; 20 concurrent consumers give exactly one winner', async (t) => {
    await grants.upsert('grant-race', { jti: 'grant-race', accountId: 'a', clientId: 'c' } as never, 600);
    await codes.upsert('race', { jti: 'race', grantId: 'grant-race' } as never, 60);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => codes.consume('race')));
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one winner');
    const losers = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    t.equal(losers.length, 19);
    t.ok(losers.every((r) => (r.reason as { error?: string }).error === 'invalid_grant'), 'losers get invalid_grant');
    t.equal(await grants.find('grant-race'), undefined, 'a replay revokes the grant');
  });

  t.test('consume of an unshared instance shows consumed: true', async (t) => {
    await codes.upsert('once', { jti: 'once' } as never, 60);
    await codes.consume('once');
    t.equal((await codes.find('once'))?.consumed, true);
  });

  t.test('destroy and revokeByGrantId', async (t) => {
    await codes.upsert('d1', { jti: 'd1' } as never, 60);
    await codes.destroy('d1');
    t.equal(await codes.find('d1'), undefined);
    const access = factory('AccessToken');
    const refresh = factory('RefreshToken');
    await access.upsert('at-1', { jti: 'at-1', grantId: 'g-revoke' } as never, 60);
    await refresh.upsert('rt-1', { jti: 'rt-1', grantId: 'g-revoke' } as never, 60);
    await access.upsert('at-2', { jti: 'at-2', grantId: 'g-keep' } as never, 60);
    await access.revokeByGrantId('g-revoke');
    t.equal(await access.find('at-1'), undefined);
    t.ok(await refresh.find('rt-1'), 'only the named model is revoked');
    await refresh.revokeByGrantId('g-revoke');
    t.equal(await refresh.find('rt-1'), undefined);
    t.ok(await access.find('at-2'), 'other grants stay');
  });

  t.test('the lookups are indexed', async (t) => {
    await db.pool.query('ANALYZE oidc_payloads');
    await db.pool.query('SET enable_seqscan = off');
    for (const [sql, params] of [
      ['SELECT * FROM oidc_payloads WHERE grant_id = $1', ['g']],
      ['SELECT * FROM oidc_payloads WHERE model = $1 AND uid = $2', ['Session', 'u']],
      ['SELECT * FROM oidc_payloads WHERE model = $1 AND user_code = $2', ['DeviceCode', 'u']],
      ['SELECT * FROM oidc_payloads WHERE id = $1', ['u']],
    ] as const) {
      const { rows } = await db.pool.query(`EXPLAIN ${sql}`, [...params]);
      t.match(rows.map((r) => r['QUERY PLAN']).join('\n'), /Index|Bitmap/, sql);
    }
  });

  t.test('rows hold digests, never the ids, and the payload comes back whole', async (t) => {
    const interactions = factory('Interaction');
    const returnTo = 'http://127.0.0.1:3000/auth/int-secret-1';
    await interactions.upsert('int-secret-1', {
      jti: 'int-secret-1',
      kind: 'Interaction',
      returnTo,
      session: { accountId: 'acc-1', uid: 'sess-uid-1', cookie: 'session-cookie-secret' },
    } as never, 60);
    await codes.upsert('code-secret-1', { jti: 'code-secret-1', kind: 'AuthorizationCode', grantId: 'g9' } as never, 60);
    const { rows } = await db.pool.query("SELECT id, uid, payload::text AS payload FROM oidc_payloads WHERE model IN ('Interaction', 'AuthorizationCode')");
    const all = JSON.stringify(rows);
    for (const secret of ['int-secret-1', 'code-secret-1', 'session-cookie-secret']) t.notOk(all.includes(secret), `${secret} is not stored`);
    t.ok(rows.some((r) => r.id === digest('int-secret-1')), 'the interaction is filed under its digest');
    const found = await interactions.find('int-secret-1');
    t.match(found, { jti: 'int-secret-1', returnTo, session: { accountId: 'acc-1', uid: 'sess-uid-1' } });
    t.notOk((found?.session as { cookie?: string } | undefined)?.cookie, 'the copy of the session cookie is not kept');
  });

  t.test('one query answers concurrent lookups of a value as every model', async (t) => {
    await factory('ClientCredentials').upsert('cc-1', { jti: 'cc-1', kind: 'ClientCredentials', clientId: 'c' } as never, 60);
    let queries = 0;
    const query = db.pool.query.bind(db.pool);
    (db.pool as { query: unknown }).query = (...args: unknown[]) => {
      queries++;
      return (query as (...a: unknown[]) => unknown)(...args);
    };
    t.teardown(() => {
      (db.pool as { query: unknown }).query = query;
    });
    const [access, cc, refresh] = await Promise.all(['AccessToken', 'ClientCredentials', 'RefreshToken'].map((m) => factory(m).find('cc-1')));
    t.equal(access, undefined);
    t.match(cc, { jti: 'cc-1', clientId: 'c' });
    t.equal(refresh, undefined);
    t.equal(queries, 1, 'a single round trip');
  });

  t.test('clients come from the clients table; disabled ones do not exist for the provider', async (t) => {
    const clientsAdapter = factory('Client');
    const { client } = await createClient(clients);
    t.match(await clientsAdapter.find(client.id), { client_id: client.id, response_types: ['code id_token', 'code'] });
    await clients.update(client.id, { enabled: false });
    t.equal(await clientsAdapter.find(client.id), undefined);
    t.equal(await clientsAdapter.find('not-a-uuid'), undefined);
    await t.rejects(clientsAdapter.upsert('x', {} as never), /managed through Keyhold/);
  });
});
