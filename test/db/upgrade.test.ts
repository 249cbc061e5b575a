import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.ts';
import { hashSecret } from '../../src/passwords.ts';
import { startTestApp } from '../helpers/app.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { basicAuth } from '../helpers/fixtures.ts';

/**
 * A database written before digests and sealed keys: argon2id client secrets, provider rows under
 * their plain ids, keys in plaintext. After the upgrade everything keeps working, and nothing bearer is
 * left in plain form.
 */
t.test('upgrading a database from before digests keeps secrets, tokens and keys working', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  const firstOnly = await mkdtemp(join(tmpdir(), 'keyhold-migrations-'));
  t.teardown(() => rm(firstOnly, { recursive: true, force: true }));
  await copyFile(join(MIGRATIONS_DIR, '0001_init.sql'), join(firstOnly, '0001_init.sql'));
  await migrate(db.pool, firstOnly);

  // As the previous version wrote them.
  const clientId = randomUUID();
  const legacySecret = randomBytes(32).toString('base64url');
  await db.pool.query("INSERT INTO clients (id, type, name) VALUES ($1, 'client-credentials', 'old automation')", [clientId]);
  await db.pool.query("INSERT INTO client_secrets (client_id, description, secret_hash) VALUES ($1, 'old', $2)", [clientId, await hashSecret(legacySecret)]);
  const oldToken = randomBytes(32).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  await db.pool.query(
    `INSERT INTO oidc_payloads (model, id, payload, client_id, expires_at)
     VALUES ('ClientCredentials', $1, $2, $3, now() + interval '1 hour')`,
    [oldToken, { jti: oldToken, kind: 'ClientCredentials', clientId, scope: '', iat: now, exp: now + 3600 }, clientId],
  );
  const interactionId = randomBytes(16).toString('base64url');
  const sessionCookie = randomBytes(32).toString('base64url');
  await db.pool.query(
    `INSERT INTO oidc_payloads (model, id, payload, uid, expires_at) VALUES ('Interaction', $1, $2, NULL, now() + interval '1 hour')`,
    [interactionId, { jti: interactionId, kind: 'Interaction', returnTo: `http://127.0.0.1/auth/${interactionId}`, session: { accountId: 'a', uid: 'u', cookie: sessionCookie } }],
  );
  const jwk = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'old-kid', alg: 'RS256', use: 'sig' };
  await db.pool.query("INSERT INTO keys (id, kind, material) VALUES ('old-kid', 'signing', $1)", [jwk]);

  await migrate(db.pool);
  const kh = await startTestApp(t, { db });

  const dump = async () => {
    const { rows } = await db.pool.query<{ row: string }>(
      `SELECT row_to_json(x)::text AS row FROM (
         SELECT 'payload' AS t, row_to_json(p)::text AS r FROM oidc_payloads p
         UNION ALL SELECT 'secret', row_to_json(s)::text FROM client_secrets s
         UNION ALL SELECT 'key', row_to_json(k)::text FROM keys k) x`,
    );
    return rows.map((r) => r.row).join('\n');
  };
  const afterMigration = await dump();
  for (const [name, value] of Object.entries({ oldToken, interactionId, sessionCookie, privateExponent: jwk.d! })) {
    t.notOk(afterMigration.includes(value), `${name} is no longer stored in plain form`);
  }

  const jwks = (await (await fetch(`${kh.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  t.ok(jwks.keys.some((k) => k.kid === 'old-kid'), 'the old signing key is still published (now sealed)');

  const token = (body: string, secret = legacySecret) =>
    fetch(`${kh.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  t.equal((await token('grant_type=client_credentials')).status, 200, 'a secret issued before the upgrade still authenticates');
  const { rows } = await db.pool.query<{ secret_digest: string | null; legacy_hash: string | null }>('SELECT secret_digest, legacy_hash FROM client_secrets WHERE client_id = $1', [clientId]);
  t.ok(rows[0]!.secret_digest, 'its first use stored its digest');
  t.equal(rows[0]!.legacy_hash, null, 'and dropped the argon2id hash');
  t.equal((await token('grant_type=client_credentials')).status, 200, 'and it keeps working');
  t.equal((await token('grant_type=client_credentials', `${legacySecret}x`)).status, 401, 'a wrong value still fails');
  t.notOk((await dump()).includes(legacySecret), 'the secret value is stored nowhere');

  const introspection = await fetch(`${kh.issuer}/token/introspection`, {
    method: 'POST',
    headers: { authorization: basicAuth(clientId, legacySecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: oldToken }),
  });
  t.match(await introspection.json(), { active: true, client_id: clientId }, 'a token issued before the upgrade is still live');
});
