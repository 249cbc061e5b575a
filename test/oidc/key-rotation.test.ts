import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import t from 'tap';
import { SIGNING_KEY_RETENTION } from '../../src/oidc/lifetimes.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, APP_REDIRECT, authorize, random } from '../helpers/flow.ts';
import { until } from '../helpers/wait.ts';

/**
 * Live key rotation on two instances sharing one database, driven through the CLI as a real process:
 * new keys are published everywhere within seconds, sign only after the activation delay (or at once
 * with --now), old ones stay published (and accepted as id_token_hint) for their retention, and
 * `keys retire` takes one out everywhere. A relying party that cached the JWKS verifies every ID token
 * throughout.
 */

type Jwks = { keys: Array<JsonWebKey & { kid: string; alg: string }> };

/** Each test instance is its own issuer (its own port): an id_token_hint goes back to the one that issued it. */
const issuerOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { iss: string }).iss;
const header = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string; alg: string };

async function jwksOf(kh: TestApp): Promise<Jwks> {
  const response = await fetch(`${kh.issuer}/jwks`);
  if (response.status !== 200) throw new Error(`GET /jwks answered ${response.status}`);
  return (await response.json()) as Jwks;
}
const kidsOf = async (kh: TestApp) => (await jwksOf(kh)).keys.map((k) => k.kid).sort();


/**
 * A relying party verifying ID tokens against a JWKS it fetched once and keeps; with
 * `refreshOnUnknownKid` it fetches again when a token names a kid it does not know (as jose's remote
 * JWKS and openid-client do), otherwise never.
 */
class RelyingParty {
  jwks: Jwks | undefined;
  fetches = 0;
  readonly from: TestApp;
  readonly refreshOnUnknownKid: boolean;
  constructor(from: TestApp, refreshOnUnknownKid: boolean) {
    this.from = from;
    this.refreshOnUnknownKid = refreshOnUnknownKid;
  }

  async refresh() {
    this.jwks = await jwksOf(this.from);
    this.fetches++;
  }

  /** 'valid', 'unknown kid' or 'bad signature'. */
  async verify(jwt: string): Promise<string> {
    const { kid, alg } = header(jwt);
    let jwk = this.jwks?.keys.find((k) => k.kid === kid);
    if (!jwk && this.refreshOnUnknownKid) {
      await this.refresh();
      jwk = this.jwks?.keys.find((k) => k.kid === kid);
    }
    if (!jwk) return 'unknown kid';
    const [h, p, s] = jwt.split('.');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(s!, 'base64url'));
    return ok ? 'valid' : 'bad signature';
  }
}

interface KeyView {
  kid: string;
  alg: string;
  state: string;
  createdAt: string;
  activatesAt: string;
  retiresAt: string | null;
}

t.test('two instances: rotate, rotate --now, retire and retention, without a restart', async (t) => {
  const db = await createTestDatabase(t);
  // The default check interval (a minute): what the instances do here, they do when told (NOTIFY) or
  // when a key is due to change state.
  const a = await startTestApp(t, { db });
  const b = await startTestApp(t, { db });
  const creds = await createUser(a.users);
  const { client } = await createClient(a.clients, { postLogoutRedirectUris: ['https://app.example.com/signed-out'] });
  const agents = new Map([[a, new Agent()], [b, new Agent()]]);

  /** An ID token from `kh` for the signed-in user (hybrid flow: straight from the authorization endpoint). */
  async function idToken(kh: TestApp): Promise<string> {
    const out = await authorize(
      agents.get(kh)!,
      kh.issuer,
      { client_id: client.id, redirect_uri: APP_REDIRECT, response_type: 'code id_token', scope: 'openid', state: random(), nonce: random() },
      creds,
    );
    const token = out.params.get('id_token');
    if (!token) throw new Error(`no ID token from ${kh.issuer}: ${out.status} ${out.html?.slice(0, 300) ?? out.target}`);
    return token;
  }
  const signsWith = async (kh: TestApp) => header(await idToken(kh)).kid;
  const list = async (): Promise<KeyView[]> => {
    const run = await runCli(db.url, ['keys', 'list', '--json']);
    if (run.code !== 0) throw new Error(run.stderr);
    return (JSON.parse(run.stdout) as { items: KeyView[] }).items;
  };
  /** The end-session page for an id_token_hint: the self-confirming page when the hint is accepted. */
  async function endSession(kh: TestApp, hint: string) {
    const response = await agents.get(kh)!.fetch(`${kh.issuer}/session/end?${new URLSearchParams({ id_token_hint: hint })}`, { headers: { accept: 'text/html' } });
    const html = await response.text();
    return { status: response.status, accepted: response.status === 200 && html.includes('id="keyhold-logout"'), html };
  }

  const issued: string[] = [];
  const first = await list();
  t.same(first.map((k) => [k.alg, k.state]).sort(), [['ES256', 'active'], ['RS256', 'active']], 'a fresh install: one active key per algorithm');
  const k0 = first.find((k) => k.alg === 'RS256')!.kid;
  for (const kh of [a, b]) {
    const token = await idToken(kh);
    issued.push(token);
    t.equal(header(token).kid, k0, 'ID tokens are signed with the active RS256 key');
  }

  // Relying parties that fetched the JWKS before the rotation.
  const lazy = new RelyingParty(a, true);
  const fixed = new RelyingParty(b, false);
  await lazy.refresh();
  await fixed.refresh();

  t.test('keys rotate: published everywhere at once, signing only after the activation delay', async (t) => {
    const rotate = await runCli(db.url, ['keys', 'rotate', '--json'], { KEY_ACTIVATION_DELAY: '6' });
    t.equal(rotate.code, 0, rotate.stderr);
    const rotation = JSON.parse(rotate.stdout) as { keys: KeyView[]; replaced: KeyView[]; dropped: KeyView[] };
    t.same(rotation.keys.map((k) => [k.alg, k.state]).sort(), [['ES256', 'pending'], ['RS256', 'pending']], 'one new pending key per algorithm');
    t.same(rotation.replaced.map((k) => k.kid).sort(), first.map((k) => k.kid).sort(), 'replacing the active ones');
    const p = rotation.keys.find((k) => k.alg === 'RS256')!;
    const activatesAt = Date.parse(p.activatesAt);
    t.equal(activatesAt - Date.parse(p.createdAt), 6000, 'they activate KEY_ACTIVATION_DELAY seconds after they were made');
    t.equal(Date.parse(rotation.replaced[0]!.retiresAt!), activatesAt + SIGNING_KEY_RETENTION * 1000, 'the old keys stay published for the retention after that');

    for (const kh of [a, b]) {
      await until(`${kh.origin} to publish the new keys`, async () => (await kidsOf(kh)).includes(p.kid));
      t.ok((await kidsOf(kh)).includes(rotation.keys.find((k) => k.alg === 'ES256')!.kid), `${kh === a ? 'the first' : 'the second'} instance publishes both new keys`);
    }
    // The relying party whose JWKS comes from a cache (max-age=300) sees it while the keys are pending.
    await fixed.refresh();

    const before: string[] = [];
    for (const kh of [a, b]) {
      const token = await idToken(kh);
      const { iat } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number };
      if ((iat + 1) * 1000 <= activatesAt) before.push(token);
      issued.push(token);
    }
    t.equal(before.length, 2, 'both instances issued an ID token before the activation time');
    t.same(before.map((token) => header(token).kid), [k0, k0], 'signed with the old key: pending keys never sign');

    for (const kh of [a, b]) {
      await until(`${kh.origin} to sign with the new key`, async () => (await signsWith(kh)) === p.kid);
    }
    t.ok(Date.now() >= activatesAt, 'no instance signed with it before its activation time');
    for (const kh of [a, b]) {
      for (let i = 0; i < 3; i++) {
        const token = await idToken(kh);
        issued.push(token);
        t.equal(header(token).kid, p.kid, `${kh === a ? 'the first' : 'the second'} instance signs with the new key from then on`);
      }
    }
    t.same((await list()).filter((k) => k.kid === k0).map((k) => k.state), ['retiring'], 'keys list: the old key is retiring');
    t.ok((await kidsOf(a)).includes(k0) && (await kidsOf(b)).includes(k0), 'and still published by both');

    for (const token of issued) t.equal(await lazy.verify(token), 'valid', `an RP that cached the JWKS before the rotation verifies a token signed by ${header(token).kid === k0 ? 'the old' : 'the new'} key`);
    for (const token of issued) t.equal(await fixed.verify(token), 'valid', 'as does one that never refreshes after seeing the pending keys');
    t.equal(fixed.fetches, 2, 'that one fetched no JWKS after the new key started signing');

    const hint = await endSession(a, issued[0]!);
    t.equal(header(issued[0]!).kid, k0);
    t.ok(hint.accepted, `an id_token_hint signed by the retiring key is accepted at sign-out (${hint.status})`);
  });

  t.test('keys rotate --now: both instances sign with the new keys within seconds', async (t) => {
    const before = await list();
    const pRs = before.find((k) => k.alg === 'RS256' && k.state === 'active')!.kid;
    const rotate = await runCli(db.url, ['keys', 'rotate', '--now']);
    t.equal(rotate.code, 0, rotate.stderr);
    t.match(rotate.stdout, /^new signing keys (RS256|ES256) [0-9a-f-]{36}, (RS256|ES256) [0-9a-f-]{36}: signing now on every running instance\n/);
    t.match(rotate.stdout, /to withdraw a compromised key at once: keys retire KID/);
    const now = (await list()).filter((k) => k.state === 'active');
    const nRs = now.find((k) => k.alg === 'RS256')!.kid;
    t.not(nRs, pRs, 'a new RS256 key is active');
    for (const kh of [a, b]) {
      await until(`${kh.origin} to sign with the key made by rotate --now`, async () => (await signsWith(kh)) === nRs);
      const token = await idToken(kh);
      issued.push(token);
      t.equal(header(token).kid, nRs, `${kh === a ? 'the first' : 'the second'} instance signs with it`);
      t.same(
        (await kidsOf(kh)).filter((kid) => [k0, pRs, nRs].includes(kid)).sort(),
        [k0, pRs, nRs].sort(),
        'and publishes it beside the two keys before it',
      );
    }
    for (const token of issued) t.equal(await lazy.verify(token), 'valid', 'every ID token so far still verifies');
  });

  t.test('keys retire: gone from both JWKS within seconds; the signing key cannot be retired', async (t) => {
    const keys = await list();
    const signing = keys.find((k) => k.alg === 'RS256' && k.state === 'active')!;
    const retiring = keys.find((k) => k.alg === 'RS256' && k.state === 'retiring' && k.kid !== k0)!;

    const refused = await runCli(db.url, ['keys', 'retire', signing.kid]);
    t.equal(refused.code, 1, 'retiring the key that signs RS256 is refused');
    t.equal(refused.stderr, `keyhold keys retire: the RS256 key ${signing.kid} is the one signing RS256: make another sign first (keys rotate --now), then retire it\n`);

    const signedByIt = issued.find((token) => header(token).kid === retiring.kid && issuerOf(token) === a.issuer)!;
    t.ok((await endSession(a, signedByIt)).accepted, 'until it is retired, an id_token_hint it signed is accepted');

    const retired = await runCli(db.url, ['keys', 'retire', retiring.kid, '--json']);
    t.equal(retired.code, 0, retired.stderr);
    t.match(JSON.parse(retired.stdout), { kid: retiring.kid, alg: 'RS256', state: 'retired' });
    for (const kh of [a, b]) {
      await until(`${kh.origin} to stop publishing ${retiring.kid}`, async () => !(await kidsOf(kh)).includes(retiring.kid));
      t.ok((await kidsOf(kh)).includes(k0), 'the other retiring key stays');
    }
    const hint = await endSession(a, signedByIt);
    t.equal(hint.status, 400, 'an id_token_hint it signed is no longer accepted');
    t.match(hint.html, /id_token_hint/);
    t.equal((await endSession(b, issued.find((token) => header(token).kid === retiring.kid && issuerOf(token) === b.issuer)!)).status, 400, 'by either instance');
    t.equal(await new RelyingParty(a, true).verify(signedByIt), 'unknown kid', 'nor can a relying party fetching the JWKS now verify what it signed');

    const again = await runCli(db.url, ['keys', 'retire', retiring.kid]);
    t.equal(again.code, 1);
    t.equal(again.stderr, `keyhold keys retire: the RS256 key ${retiring.kid} is already retired\n`);
  });

  t.test('retention: a retiring key leaves the JWKS once what it signed can no longer be presented', async (t) => {
    // As if the retention had passed since the last rotation: every key made that much earlier. An
    // instance would have read the keys again when the retention ran out; here they are told.
    await db.pool.query(
      `UPDATE keys SET created_at = created_at - $1 * interval '1 second', activates_at = activates_at - $1 * interval '1 second',
                       retires_at = retires_at - $1 * interval '1 second' WHERE kind = 'signing'`,
      [SIGNING_KEY_RETENTION + 60],
    );
    await db.pool.query('NOTIFY keyhold_keys');
    const keys = await list();
    const active = keys.filter((k) => k.state === 'active').map((k) => k.kid).sort();
    t.equal(active.length, 2);
    t.same(keys.filter((k) => k.state !== 'active').map((k) => k.state), ['retired', 'retired', 'retired', 'retired'], 'keys list: the four keys before them are retired');
    for (const kh of [a, b]) {
      await until(`${kh.origin} to publish the active keys alone`, async () => JSON.stringify(await kidsOf(kh)) === JSON.stringify(active));
      t.pass(`${kh === a ? 'the first' : 'the second'} instance publishes the two active keys only`);
    }
    const hint = await endSession(a, issued[0]!);
    t.equal(hint.status, 400, 'an id_token_hint signed by a retired key is refused');
    t.equal(header(await idToken(a)).kid, keys.find((k) => k.alg === 'RS256' && k.state === 'active')!.kid, 'signing goes on with the active key');
  });
});
