import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Keyring } from '../../src/crypto/keyring.ts';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.ts';
import { SIGNING_KEY_RETENTION } from '../../src/oidc/lifetimes.ts';
import { createKeysRepo } from '../../src/repos/keys.ts';
import { startTestApp, TEST_ENCRYPTION_KEY } from '../helpers/app.ts';
import { createTestDatabase } from '../helpers/db.ts';

/**
 * A database from before live rotation: `keys rotate` set retired_at on the keys it replaced, and the
 * newest four of those stayed published. After the upgrade the active keys still sign, those four are
 * retiring (still published, for the retention after their successor took over), older ones retired.
 */
t.test('upgrading keys from before live rotation (migration 0005)', async (t) => {
  const db = await createTestDatabase(t, { empty: true });
  const before = await mkdtemp(join(tmpdir(), 'keyhold-migrations-'));
  t.teardown(() => rm(before, { recursive: true, force: true }));
  for (const file of ['0001_init.sql', '0002_nothing_bearer_at_rest.sql', '0003_front_door.sql']) await copyFile(join(MIGRATIONS_DIR, file), join(before, file));
  await migrate(db.pool, before);

  // Six rotations' worth of keys, a day apart, sealed as the previous version sealed them.
  const keyring = new Keyring([Buffer.from(TEST_ENCRYPTION_KEY, 'base64')]);
  const generations: Array<{ rs: string; es: string; created: Date }> = [];
  const day = 86_400_000;
  const now = Date.now();
  for (let i = 0; i < 6; i++) {
    const created = new Date(now - (6 - i) * day);
    const retired = i < 5 ? new Date(now - (5 - i) * day) : null;
    const made = { rs: randomUUID(), es: randomUUID(), created };
    for (const [kid, alg] of [[made.rs, 'RS256'], [made.es, 'ES256']] as const) {
      const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = { ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
      await db.pool.query("INSERT INTO keys (id, kind, sealed, created_at, retired_at) VALUES ($1, 'signing', $2, $3, $4)", [
        kid,
        keyring.seal(JSON.stringify(jwk), `keys:${kid}`),
        created,
        retired,
      ]);
    }
    generations.push(made);
  }
  await db.pool.query("INSERT INTO keys (id, kind, sealed) VALUES ('cookie-1', 'cookie', $1)", [keyring.seal(JSON.stringify({ secret: 'c'.repeat(43) }), 'keys:cookie-1')]);

  await migrate(db.pool);
  const kh = await startTestApp(t, { db });

  const { rows } = await db.pool.query<{ id: string; alg: string | null }>("SELECT id, alg FROM keys WHERE kind = 'signing'");
  t.ok(rows.every((r) => r.alg === (generations.some((g) => g.rs === r.id) ? 'RS256' : 'ES256')), 'the first start filled in the algorithm of every sealed row');

  const keys = await createKeysRepo(db.pool, keyring).list();
  const stateOf = (kid: string) => keys.find((k) => k.kid === kid)!;
  const [, , , fourth, fifth, sixth] = generations;
  t.same([stateOf(sixth!.rs).state, stateOf(sixth!.es).state], ['active', 'active'], 'the keys that signed before the upgrade sign after it');
  for (const [generation, successor] of [[fourth!, fifth!], [fifth!, sixth!]] as const) {
    for (const kid of [generation.rs, generation.es]) {
      t.equal(stateOf(kid).state, 'retiring', 'the four keys published as retired before are retiring');
      t.equal(stateOf(kid).retiresAt?.getTime(), successor.created.getTime() + SIGNING_KEY_RETENTION * 1000, 'until the retention after the next key took over');
    }
  }
  for (const generation of generations.slice(0, 3)) {
    for (const kid of [generation.rs, generation.es]) t.equal(stateOf(kid).state, 'retired', 'older ones, no longer published before, are retired');
  }

  const jwks = (await (await fetch(`${kh.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  const published = generations.slice(3).flatMap((g) => [g.rs, g.es]);
  t.same(jwks.keys.map((k) => k.kid).sort(), published.sort(), 'the JWKS publishes what it did before the upgrade');
});
