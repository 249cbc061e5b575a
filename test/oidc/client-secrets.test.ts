import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import argon2 from 'argon2';
import t, { type Test } from 'tap';
import { generateClientSecret } from '../../src/crypto/digest.ts';
import { hashSecret } from '../../src/passwords.ts';
import { CLIENT_CHANGES_CHANNEL } from '../../src/repos/clients.ts';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { post, type TokenCall } from '../helpers/flow.ts';
import { oneLine, recordQueries } from '../helpers/queries.ts';

/**
 * Client authentication at the token endpoint, over real HTTP (client_credentials grant): generated
 * `khs_` secrets found by their SHA-256 digest, rotation, expiry, deletion, and secrets from before
 * digests (argon2id), which are upgraded on their first successful use. argon2 must never run for a
 * `khs_` value: `argon2.verify` is counted in this process, where the app runs.
 */

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('base64url');
/** A secret as Keyhold issued them before digests: 256 random bits, base64url, no prefix. */
const legacyValue = () => randomBytes(32).toString('base64url');

/** Counts calls of `argon2.verify` (the default export is what src/passwords.ts calls through). */
function countArgon2(t: Test) {
  const mod = argon2 as unknown as { verify: typeof argon2.verify };
  const original = mod.verify;
  let calls = 0;
  mod.verify = (...args: Parameters<typeof argon2.verify>) => {
    calls++;
    return original(...args);
  };
  t.teardown(() => {
    mod.verify = original;
  });
  return {
    /** argon2 verifications made while `fn` ran. */
    async during<T>(fn: () => Promise<T>): Promise<{ result: T; verifications: number }> {
      const before = calls;
      const result = await fn();
      return { result, verifications: calls - before };
    },
  };
}

function grant(kh: TestApp, clientId: string, secret: string, method: 'basic' | 'post' = 'basic'): Promise<TokenCall> {
  return post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId, secret, method });
}

/** Files a secret the way Keyhold stored them before digests: an argon2id hash, no digest. */
async function insertLegacySecret(kh: TestApp, clientId: string, value: string, expiresAt: Date | null = null): Promise<string> {
  const { rows } = await kh.db.pool.query<{ id: string }>(
    'INSERT INTO client_secrets (client_id, description, legacy_hash, expires_at) VALUES ($1, $2, $3, $4) RETURNING id',
    [clientId, 'from before digests', await hashSecret(value), expiresAt],
  );
  // Written behind Keyhold's back (as the migration left them): announce it, as a change through Keyhold would.
  await kh.db.pool.query('SELECT pg_notify($1, $2)', [CLIENT_CHANGES_CHANNEL, clientId]);
  return rows[0]!.id;
}

async function secretRow(kh: TestApp, id: string) {
  const { rows } = await kh.db.pool.query<{ secret_digest: string | null; legacy_hash: string | null }>(
    'SELECT secret_digest, legacy_hash FROM client_secrets WHERE id = $1',
    [id],
  );
  return rows[0];
}

t.test('client secrets at the token endpoint', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const argon = countArgon2(t);
  /** Every secret value presented in this test, right or wrong: none may reach the logs. */
  const presented: string[] = [];

  const created = await api('POST', '/clients', { type: 'client-credentials', name: 'Service' });
  t.equal(created.status, 201);
  const clientId = created.body.client.id as string;
  const first = created.body.secret as { id: string; value: string };
  t.match(first.value, /^khs_[A-Za-z0-9_-]{43}$/, 'a generated secret: khs_ and 43 base64url characters');
  // The client also holds a secret from before digests, never used: an implementation that tried
  // argon2 for every value not found by digest would run it for the khs_ values below.
  const pendingLegacy = legacyValue();
  const pendingLegacyId = await insertLegacySecret(kh, clientId, pendingLegacy);
  const pendingLegacyHash = (await secretRow(kh, pendingLegacyId))?.legacy_hash;
  presented.push(first.value, pendingLegacy);

  // A secret that expires in a few seconds: it works now, and is tried again at the end, once expired.
  const expiring = (await api('POST', `/clients/${clientId}/secrets`, { description: 'short-lived', expiresAt: new Date(Date.now() + 4000).toISOString() })).body as {
    id: string;
    value: string;
    expiresAt: string;
  };
  presented.push(expiring.value);
  t.equal((await grant(kh, clientId, expiring.value)).status, 200, 'a secret with an expiry in the future works');

  t.test('the right secret: 200 with client_secret_basic and client_secret_post', async (t) => {
    for (const method of ['basic', 'post'] as const) {
      const { result, verifications } = await argon.during(() => grant(kh, clientId, first.value, method));
      t.equal(result.status, 200, `client_secret_${method}`);
      t.type(result.body.access_token, 'string');
      t.equal(verifications, 0, `no argon2 for a khs_ secret found by digest (client_secret_${method})`);
    }
  });

  t.test('an unknown client id: 401 invalid_client, no argon2', async (t) => {
    for (const method of ['basic', 'post'] as const) {
      const { result, verifications } = await argon.during(() => grant(kh, randomUUID(), first.value, method));
      t.equal(result.status, 401, `client_secret_${method}`);
      t.equal(result.body.error, 'invalid_client');
      t.equal(verifications, 0, 'no argon2 for an unknown client');
    }
  });

  t.test('a wrong khs_ secret: 401 invalid_client, no argon2 even though the client holds a legacy secret', async (t) => {
    for (const method of ['basic', 'post'] as const) {
      const wrong = generateClientSecret();
      presented.push(wrong);
      const { result, verifications } = await argon.during(() => grant(kh, clientId, wrong, method));
      t.equal(result.status, 401, `client_secret_${method}`);
      t.equal(result.body.error, 'invalid_client');
      t.equal(verifications, 0, 'no argon2 for a khs_ value');
    }
    t.same(await secretRow(kh, pendingLegacyId), { secret_digest: null, legacy_hash: pendingLegacyHash }, 'the legacy secret was left as it was');
  });

  t.test('a wrong value without the prefix is checked against the legacy hash (the argon2 counter works)', async (t) => {
    const wrong = legacyValue();
    presented.push(wrong);
    const { result, verifications } = await argon.during(() => grant(kh, clientId, wrong));
    t.equal(result.status, 401);
    t.equal(result.body.error, 'invalid_client');
    t.equal(verifications, 1, 'one argon2 verification, against the one legacy secret');
  });

  t.test('rotation: a second secret works beside the first; the deleted one fails on the very next request', async (t) => {
    const second = (await api('POST', `/clients/${clientId}/secrets`, { description: 'rotation' })).body as { id: string; value: string };
    presented.push(second.value);
    t.equal((await grant(kh, clientId, second.value)).status, 200, 'the new secret works');
    t.equal((await grant(kh, clientId, first.value, 'post')).status, 200, 'the old one still works');

    t.equal((await api('DELETE', `/clients/${clientId}/secrets/${first.id}`)).status, 204);
    for (const method of ['basic', 'post'] as const) {
      const { result, verifications } = await argon.during(() => grant(kh, clientId, first.value, method));
      t.equal(result.status, 401, `the deleted secret is refused (client_secret_${method})`);
      t.equal(result.body.error, 'invalid_client');
      t.equal(verifications, 0, 'no argon2 for a deleted khs_ secret');
    }
    t.equal((await grant(kh, clientId, second.value, 'post')).status, 200, 'the remaining secret works');
  });

  t.test('a secret from before digests works, is upgraded to a digest on first use, and keeps working', async (t) => {
    const legacy = (await api('POST', '/clients', { type: 'client-credentials', name: 'Legacy' })).body as { client: { id: string }; secret: { value: string } };
    presented.push(legacy.secret.value);
    const value = legacyValue();
    const expiredValue = legacyValue();
    presented.push(value, expiredValue);
    const id = await insertLegacySecret(kh, legacy.client.id, value);
    const expiredId = await insertLegacySecret(kh, legacy.client.id, expiredValue, new Date(Date.now() - 60_000));
    const hashBefore = (await secretRow(kh, id))?.legacy_hash;
    t.match(hashBefore, /^\$argon2id\$/, 'stored as argon2id');

    const firstUse = await argon.during(() => grant(kh, legacy.client.id, value));
    t.equal(firstUse.result.status, 200, 'the legacy secret authenticates');
    t.ok(firstUse.verifications >= 1, 'checked with argon2');
    t.same(await secretRow(kh, id), { secret_digest: sha256(value), legacy_hash: null }, 'after its first use the row holds its SHA-256 digest and no argon2id hash');

    t.equal((await grant(kh, legacy.client.id, value, 'post')).status, 200, 'it keeps working');
    // Once the upgrade's change notification reached the cache, the secret is found by digest alone.
    let verifications = -1;
    for (let i = 0; i < 20 && verifications !== 0; i++) {
      if (i > 0) await sleep(100);
      const use = await argon.during(() => grant(kh, legacy.client.id, value));
      t.equal(use.result.status, 200);
      verifications = use.verifications;
    }
    t.equal(verifications, 0, 'an upgraded secret is found by its digest, without argon2');

    const expired = await grant(kh, legacy.client.id, expiredValue);
    t.equal(expired.status, 401, 'an expired legacy secret is refused');
    t.equal(expired.body.error, 'invalid_client');
    const expiredRow = await secretRow(kh, expiredId);
    t.equal(expiredRow?.secret_digest, null, 'an expired legacy secret is not upgraded');
    t.match(expiredRow?.legacy_hash, /^\$argon2id\$/);
    t.equal((await grant(kh, legacy.client.id, legacy.secret.value)).status, 200, "the client's khs_ secret works beside it");
  });

  t.test('an expired secret: 401, no argon2', async (t) => {
    const expiresAt = new Date(expiring.expiresAt).getTime();
    t.ok(expiresAt > 0, 'the admin API reported the expiry');
    // Expiry is checked at request time against the expiry the instance holds: no change is announced.
    while (Date.now() <= expiresAt + 50) await sleep(Math.max(10, expiresAt + 60 - Date.now()));
    for (const method of ['basic', 'post'] as const) {
      const { result, verifications } = await argon.during(() => grant(kh, clientId, expiring.value, method));
      t.equal(result.status, 401, `an expired secret is refused (client_secret_${method})`);
      t.equal(result.body.error, 'invalid_client');
      t.equal(verifications, 0, 'no argon2 for an expired khs_ secret');
    }
  });

  t.test('every refusal costs the same two queries: unknown client, wrong, expired and deleted secret', async (t) => {
    const queries = recordQueries(t);
    const live = (await api('POST', `/clients/${clientId}/secrets`, { description: 'timing' })).body as { id: string; value: string };
    presented.push(live.value);
    t.equal((await grant(kh, clientId, live.value)).status, 200, 'warm-up: the client is cached');
    const refusals: Record<string, () => Promise<TokenCall>> = {
      'an unknown client': () => grant(kh, randomUUID(), live.value),
      'a wrong secret': () => grant(kh, clientId, generateClientSecret()),
      'an expired secret': () => grant(kh, clientId, expiring.value),
      'a deleted secret': () => grant(kh, clientId, first.value),
    };
    for (const [what, refuse] of Object.entries(refusals)) {
      let answer: TokenCall | undefined;
      const seen = await queries.during(async () => {
        answer = await refuse();
      });
      t.equal(answer?.status, 401, `${what}: refused`);
      t.same(
        seen.map((q) => {
          if (/AS secrets\s+FROM clients WHERE id = \$1/.test(q.sql)) return 'read the client';
          if (/INSERT INTO rate_limits/.test(q.sql)) return 'count the failure';
          return oneLine(q.sql, 60);
        }).sort(),
        ['count the failure', 'read the client'],
        `${what}: the client read by its id, and the failure counted (per address; per client when it exists)`,
      );
    }
    const accepted = await queries.during(() => grant(kh, clientId, live.value));
    t.notOk(accepted.some((q) => /AS secrets\s+FROM clients WHERE id = \$1/.test(q.sql)), 'the right secret is found in the cached copy, with no read');
  });

  t.test('no secret value reaches the logs', async (t) => {
    t.ok(kh.logs.lines.length > 0, 'the app logged');
    for (const value of presented) t.notOk(kh.logs.text.includes(value), `${value.slice(0, 6)}... is not in the logs`);
  });
});
