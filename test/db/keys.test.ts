import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { Keyring, SealedDataError } from '../../src/crypto/keyring.ts';
import { ENCRYPTION_KEY_FILE, loadKeyring } from '../../src/encryption-keys.ts';
import { createKeysRepo, type PrivateJwk } from '../../src/repos/keys.ts';
import { createTestDatabase } from '../helpers/db.ts';

const key = () => randomBytes(32);
const PRIVATE_PARTS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;

async function tableText(pool: { query: (sql: string) => Promise<{ rows: Array<{ row: string }> }> }): Promise<string> {
  const { rows } = await pool.query('SELECT row_to_json(k)::text AS row FROM keys k');
  return rows.map((r) => r.row).join('\n');
}

t.test('signing and cookie keys rest sealed: the table holds no private part and no cookie secret', async (t) => {
  const db = await createTestDatabase(t);
  const k1 = key();
  const material = await createKeysRepo(db.pool, new Keyring([k1])).ensure();
  t.equal(material.signing.length, 2, 'an RS256 and an ES256 key');
  const text = await tableText(db.pool);
  for (const jwk of material.signing) {
    for (const part of PRIVATE_PARTS) {
      const value = (jwk as Record<string, unknown>)[part];
      if (typeof value === 'string') t.notOk(text.includes(value), `${jwk.alg} ${part} is not in the table`);
    }
  }
  for (const secret of material.cookie) t.notOk(text.includes(secret), 'the cookie key is not in the table');
  const { rows } = await db.pool.query<{ material: unknown; sealed: string }>('SELECT material, sealed FROM keys');
  t.ok(rows.every((r) => r.material === null && /^v1\./.test(r.sealed)), 'every row is sealed, none in plaintext');

  t.same((await createKeysRepo(db.pool, new Keyring([k1])).load()).signing, material.signing, 'the same keys open again');
  await t.rejects(createKeysRepo(db.pool, new Keyring([key()])).load(), SealedDataError, 'another key opens nothing');
});

t.test('keys stored in plaintext before encryption are sealed on the next start, unchanged', async (t) => {
  const db = await createTestDatabase(t);
  const jwk = { kty: 'oct', kid: 'legacy-kid', alg: 'RS256', use: 'sig', d: 'legacy-private-part-0123456789' } as unknown as PrivateJwk;
  await db.pool.query("INSERT INTO keys (id, kind, material) VALUES ('legacy-kid', 'signing', $1)", [jwk]);
  await db.pool.query("INSERT INTO keys (id, kind, material) VALUES ('legacy-cookie', 'cookie', $1)", [{ secret: 'legacy-cookie-secret-0123456789' }]);
  const loaded = await createKeysRepo(db.pool, new Keyring([key()])).ensure();
  t.match(loaded.signing[0], { kid: 'legacy-kid', d: 'legacy-private-part-0123456789' }, 'the same key signs');
  t.same(loaded.cookie, ['legacy-cookie-secret-0123456789'], 'the same cookie key');
  const text = await tableText(db.pool);
  t.notOk(text.includes('legacy-private-part-0123456789'), 'no plaintext signing key left');
  t.notOk(text.includes('legacy-cookie-secret-0123456789'), 'no plaintext cookie key left');
});

t.test('rotating ENCRYPTION_KEYS: a new first key reseals every row; then the old key can go', async (t) => {
  const db = await createTestDatabase(t);
  const [oldKey, newKey] = [key(), key()];
  const before = await createKeysRepo(db.pool, new Keyring([oldKey])).ensure();
  const rotated = new Keyring([newKey, oldKey]);
  t.same(await createKeysRepo(db.pool, rotated).ensure(), before, 'the same keys after the reseal');
  const { rows } = await db.pool.query<{ sealed: string }>('SELECT sealed FROM keys');
  t.ok(rows.every((r) => rotated.isCurrent(r.sealed)), 'every row is sealed under the new key');
  t.same(await createKeysRepo(db.pool, new Keyring([newKey])).load(), before, 'the new key alone opens them');
  await t.rejects(createKeysRepo(db.pool, new Keyring([oldKey])).load(), SealedDataError, 'the old key alone no longer does');
});

t.test('a sealed value is bound to its row: swapped between rows it does not open', async (t) => {
  const ring = new Keyring([key()]);
  const sealed = ring.seal('{"secret":"x"}', 'keys:a');
  t.equal(ring.open(sealed, 'keys:a'), '{"secret":"x"}');
  t.throws(() => ring.open(sealed, 'keys:b'), SealedDataError);
  const [v, id, iv, body] = sealed.split('.');
  const flipped = Buffer.from(body!, 'base64url');
  flipped[0] = flipped[0]! ^ 1;
  t.throws(() => ring.open([v, id, iv, flipped.toString('base64url')].join('.'), 'keys:a'), SealedDataError, 'an altered value does not open');
});

t.test('ENCRYPTION_KEYS: parsed, checked, and required with a Postgres server', async (t) => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const config = loadConfig({ ENCRYPTION_KEYS: `${a.toString('base64')},${b.toString('base64url')}` });
  t.same(config.encryptionKeys, [a, b], 'base64 and base64url, comma-separated, in order');
  t.throws(() => loadConfig({ ENCRYPTION_KEYS: randomBytes(16).toString('base64') }), ConfigError, 'a 128-bit key is refused');
  try {
    loadConfig({ ENCRYPTION_KEYS: 'not a key' });
    t.fail('expected a ConfigError');
  } catch (err) {
    t.match((err as ConfigError).problems, [/^ENCRYPTION_KEYS: must be comma-separated base64 keys of 32 bytes/]);
    t.notMatch((err as ConfigError).message, 'not a key', 'the value is not echoed');
  }
  await t.rejects(loadKeyring(loadConfig({ DATABASE_URL: 'postgres://db/keyhold' })), ConfigError, 'a server needs the keys');
});

t.test('the embedded default: a key generated once into DATA_DIR, mode 0600, reused', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'keyhold-keyring-'));
  await chmod(dataDir, 0o755);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const config = loadConfig({ DATA_DIR: dataDir });
  const first = await loadKeyring(config);
  const file = join(dataDir, ENCRYPTION_KEY_FILE);
  t.equal((await stat(file)).mode & 0o777, 0o600, 'only the owner can read it');
  const again = await loadKeyring(config);
  t.equal(again.primaryKeyId, first.primaryKeyId, 'the next start uses the same key');
  t.equal(Buffer.from((await readFile(file, 'utf8')).trim(), 'base64').length, 32);
  const given = await loadKeyring(loadConfig({ DATA_DIR: dataDir, ENCRYPTION_KEYS: randomBytes(32).toString('base64') }));
  t.not(given.primaryKeyId, first.primaryKeyId, 'ENCRYPTION_KEYS wins over the file');
  await writeFile(file, 'garbage\n');
  await t.rejects(loadKeyring(config), ConfigError, 'a damaged key file stops the start with a clear message');
});

t.test('the server on a Postgres server without ENCRYPTION_KEYS stops with one readable line', async (t) => {
  const root = join(import.meta.dirname, '..', '..');
  const result = spawnSync(join(root, 'node_modules', '.bin', 'node'), [join(root, 'src', 'server.ts')], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: 'postgres://127.0.0.1:1/none', ENCRYPTION_KEYS: '', PORT: '1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.equal(result.status, 1);
  t.match(result.stderr, /ENCRYPTION_KEYS: required with DATABASE_URL/);
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
