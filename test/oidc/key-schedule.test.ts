import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { createKeysRepo } from '../../src/repos/keys.ts';
import { Keyring } from '../../src/crypto/keyring.ts';
import { startTestApp, TEST_ENCRYPTION_KEY, type TestApp } from '../helpers/app.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, APP_REDIRECT, authorize, random } from '../helpers/flow.ts';
import { until } from '../helpers/wait.ts';

/** KEY_ROTATION_DAYS: two instances check the keys' age in the background; exactly one rotates. */

const CHECK_MS = 200;


const kidsOf = async (kh: TestApp) => ((await (await fetch(`${kh.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
const SCHEDULED = 'signing keys rotated on schedule';

t.test('KEY_ROTATION_DAYS: keys that old are rotated once, with the activation delay, by one instance', async (t) => {
  const db = await createTestDatabase(t);
  const env = { KEY_ROTATION_DAYS: '30', KEY_ACTIVATION_DELAY: '3600' };
  const a = await startTestApp(t, { db, env, keyCheckIntervalMs: CHECK_MS });
  const b = await startTestApp(t, { db, env, keyCheckIntervalMs: CHECK_MS });
  const repo = createKeysRepo(db.pool, new Keyring([Buffer.from(TEST_ENCRYPTION_KEY, 'base64')]));
  const creds = await createUser(a.users);
  const { client } = await createClient(a.clients);
  const signsWith = async (kh: TestApp) => {
    const out = await authorize(new Agent(), kh.issuer, { client_id: client.id, redirect_uri: APP_REDIRECT, response_type: 'code id_token', scope: 'openid', state: random(), nonce: random() }, creds);
    return (JSON.parse(Buffer.from(out.params.get('id_token')!.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
  };

  const first = await repo.list();
  t.equal(first.length, 2, 'a fresh install: two keys');
  await sleep(CHECK_MS * 5);
  t.equal((await repo.list()).length, 2, 'keys younger than KEY_ROTATION_DAYS are left alone');

  // As if the keys had been made 30 days ago.
  await db.pool.query(
    "UPDATE keys SET created_at = created_at - interval '30 days', activates_at = activates_at - interval '30 days' WHERE kind = 'signing'",
  );
  const rotated = await until('a scheduled rotation', async () => {
    const keys = await repo.list();
    return keys.length > 2 && keys;
  });
  await sleep(CHECK_MS * 5);
  const keys = await repo.list();
  t.equal(keys.length, 4, 'exactly one new key per algorithm, though both instances kept checking');
  t.same(keys.map((k) => k.kid), rotated.map((k) => k.kid));
  const logged = [a, b].map((kh) => kh.logs.lines.filter((line) => line.includes(SCHEDULED)).length);
  t.same(logged.sort(), [0, 1], 'one instance rotated, the other found the new keys');

  const fresh = keys.filter((k) => !first.some((f) => f.kid === k.kid));
  t.same(fresh.map((k) => [k.alg, k.state]).sort(), [['ES256', 'pending'], ['RS256', 'pending']], 'the new keys are pending');
  for (const key of fresh) t.equal(key.activatesAt.getTime() - key.createdAt.getTime(), 3600_000, 'for KEY_ACTIVATION_DELAY');
  t.same(keys.filter((k) => first.some((f) => f.kid === k.kid)).map((k) => k.state), ['active', 'active'], 'the old keys sign until then');

  const oldRs = first.find((k) => k.alg === 'RS256')!.kid;
  for (const kh of [a, b]) {
    await until(`${kh.origin} to publish the new keys`, async () => {
      const kids = await kidsOf(kh);
      return fresh.every((k) => kids.includes(k.kid));
    });
    t.equal(await signsWith(kh), oldRs, `${kh === a ? 'the first' : 'the second'} instance publishes the new keys and still signs with the old one`);
  }

  t.test('both instances checking at the same moment: still one rotation', async (t) => {
    // Thirty days later, announced: both instances read the keys at once, and both find a rotation due.
    await db.pool.query(`BEGIN;
      UPDATE keys SET created_at = created_at - interval '30 days', activates_at = activates_at - interval '30 days' WHERE kind = 'signing';
      NOTIFY keyhold_keys;
      COMMIT`);
    await until('the second scheduled rotation', async () => (await repo.list()).length > 4);
    await sleep(CHECK_MS * 5);
    const after = await repo.list();
    t.equal(after.length, 6, 'one new key per algorithm again');
    t.same(after.filter((k) => k.state === 'pending').map((k) => k.alg).sort(), ['ES256', 'RS256']);
    t.same(after.filter((k) => k.state === 'active').map((k) => k.kid).sort(), fresh.map((k) => k.kid).sort(), 'the keys of the first rotation sign now');
    const total = [a, b].reduce((n, kh) => n + kh.logs.lines.filter((line) => line.includes(SCHEDULED)).length, 0);
    t.equal(total, 2, 'two rotations logged in all');
  });
});
