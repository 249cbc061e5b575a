import { createHash } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { Keyring } from '../../src/crypto/keyring.ts';
import { createKeysRepo } from '../../src/repos/keys.ts';
import { adminToken, apiFor, clientCredentials } from '../helpers/admin.ts';
import { startTestApp, TEST_ENCRYPTION_KEY } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, pkce, post, random } from '../helpers/flow.ts';

/**
 * Nothing bearer at rest: after real sign-ins, code exchanges, a refresh and client_credentials grants,
 * no value that works anywhere (a secret, a password, a code, a token, a session or interaction id, a
 * cookie, a private key) appears in any row of any table. Every table of the public schema is read
 * whole, each row as `row_to_json(row)::text`, and searched for each value as a raw substring.
 */

const REDIRECT = 'https://app.example.com/callback';
/** Values shorter than this are not searched for (a short string can occur by chance); the test lists any it skips. */
const MIN_LENGTH = 16;

/** An agent that also remembers every URL it was sent to, every cookie it was given and every page it read. */
class RecordingAgent extends Agent {
  readonly urls: string[] = [];
  readonly cookiesSeen: Array<{ name: string; value: string }> = [];
  readonly pages: string[] = [];

  override async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    this.urls.push(url);
    const response = await super.fetch(url, init);
    const location = response.headers.get('location');
    if (location) this.urls.push(new URL(location, url).href);
    for (const set of response.headers.getSetCookie()) {
      const pair = set.split(';')[0]!;
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1).trim();
      if (value) this.cookiesSeen.push({ name: pair.slice(0, eq).trim(), value });
    }
    if (response.headers.get('content-type')?.startsWith('text/html')) this.pages.push(await response.clone().text());
    return response;
  }

  /** The interaction uids in the URLs visited (/interaction/<uid>..., and the provider's /auth/<uid> resume URLs). */
  interactionUids(): string[] {
    const uids = new Set<string>();
    for (const url of this.urls) {
      const path = new URL(url).pathname;
      const m = /^\/interaction\/([^/]+)/.exec(path) ?? /^\/auth\/([^/]+)$/.exec(path);
      if (m) uids.add(decodeURIComponent(m[1]!));
    }
    return [...uids];
  }

  csrfTokens(): string[] {
    return this.pages.flatMap((html) => [...html.matchAll(/name="csrf" value="([^"]+)"/g)].map((m) => m[1]!));
  }
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('base64url');

t.test('no bearer value is stored anywhere', async (t) => {
  const kh = await startTestApp(t);
  const values = new Map<string, string>();
  const collect = (name: string, value: unknown) => {
    if (typeof value !== 'string' || value === '') throw new Error(`${name}: no value collected`);
    values.set(name, value);
  };

  const { username, password } = await createUser(kh.users);
  collect('user password', password);
  const hybrid = await createClient(kh.clients, { allowRefreshToken: true, redirectUris: [REDIRECT] });
  collect('hybrid client secret', hybrid.secret);

  // A browserless sign-in: authorization request, sign-in form, code (and the front-channel ID token).
  const agent = new RecordingAgent();
  const { verifier, challenge } = pkce();
  collect('PKCE code_verifier', verifier);
  const signedIn = await authorize(
    agent,
    kh.issuer,
    {
      client_id: hybrid.client.id,
      redirect_uri: REDIRECT,
      response_type: 'code id_token',
      scope: 'openid profile email offline_access',
      state: random(),
      nonce: random(),
      code_challenge: challenge,
      code_challenge_method: 'S256',
    },
    { username, password },
  );
  t.equal(signedIn.target, REDIRECT, 'signed in and sent back to the app');
  collect('authorization code', signedIn.params.get('code'));
  collect('front-channel id_token', signedIn.params.get('id_token'));

  // Code exchange (offline_access, so a refresh token is issued), then a refresh.
  const exchanged = await post(
    `${kh.issuer}/token`,
    { grant_type: 'authorization_code', code: signedIn.params.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier },
    { clientId: hybrid.client.id, secret: hybrid.secret },
  );
  t.equal(exchanged.status, 200, 'code exchanged');
  collect('access token (code exchange)', exchanged.body.access_token);
  collect('refresh token (code exchange)', exchanged.body.refresh_token);
  collect('id_token (code exchange)', exchanged.body.id_token);
  const refreshed = await post(
    `${kh.issuer}/token`,
    { grant_type: 'refresh_token', refresh_token: String(exchanged.body.refresh_token) },
    { clientId: hybrid.client.id, secret: hybrid.secret, method: 'post' },
  );
  t.equal(refreshed.status, 200, 'refreshed');
  collect('access token (refresh)', refreshed.body.access_token);
  collect('refresh token (refresh)', refreshed.body.refresh_token);
  collect('id_token (refresh)', refreshed.body.id_token);
  t.not(refreshed.body.refresh_token, exchanged.body.refresh_token, 'the refresh token rotated (both are searched for)');

  // client_credentials: an automation client made in the database, and one made through the admin API.
  const admin = await adminToken(kh);
  collect('admin client secret', admin.secret);
  collect('admin access token (client_credentials)', admin.token);
  const service = (await admin.api('POST', '/clients', { type: 'client-credentials', name: 'Service' })).body as { client: { id: string }; secret: { value: string } };
  collect('service client secret (admin API)', service.secret.value);
  const serviceToken = await clientCredentials(kh, service.client.id, service.secret.value, '');
  t.equal(serviceToken.status, 200);
  collect('service access token (client_credentials)', serviceToken.body.access_token);

  // A second browser stops at the sign-in page: its interaction is at rest, unfinished.
  const pending = new RecordingAgent();
  const stopped = await authorize(pending, kh.issuer, {
    client_id: hybrid.client.id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    state: random(),
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  });
  t.equal(stopped.via, 'page', 'the second browser is on the sign-in page');

  for (const [who, a] of [['signed-in browser', agent], ['pending browser', pending]] as const) {
    const uids = a.interactionUids();
    t.ok(uids.length >= 1, `${who}: interaction uids seen in its URLs`);
    uids.forEach((uid, i) => collect(`${who}: interaction uid ${i + 1}`, uid));
    a.cookiesSeen.forEach(({ name, value }, i) => collect(`${who}: cookie ${name} (#${i + 1})`, value));
    a.csrfTokens().forEach((csrf, i) => collect(`${who}: sign-in form CSRF token ${i + 1}`, csrf));
  }
  const cookieNames = new Set(agent.cookiesSeen.map((c) => c.name));
  for (const name of ['_session', '_session.sig', '_interaction', '_interaction.sig', '_interaction_resume', '_interaction_resume.sig']) {
    t.ok(cookieNames.has(name), `the browser was given ${name}`);
  }
  t.ok(agent.cookies.get('_session'), 'the signed-in browser holds a session cookie');

  // Keys: the private parts of every signing key, and the cookie-signing secrets, as the app opens them.
  const keyring = new Keyring([Buffer.from(TEST_ENCRYPTION_KEY, 'base64')]);
  const keys = await createKeysRepo(kh.db.pool, keyring).load();
  t.ok(keys.signing.length >= 2 && keys.cookie.length >= 1, 'signing and cookie keys loaded');
  for (const jwk of keys.signing) {
    const parts = jwk.kty === 'RSA' ? (['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) : (['d'] as const);
    for (const part of parts) collect(`${jwk.alg} signing key ${jwk.kid}: ${part}`, jwk[part]);
  }
  keys.cookie.forEach((secret, i) => collect(`cookie-signing secret ${i + 1}`, secret));
  collect('ENCRYPTION_KEYS key', TEST_ENCRYPTION_KEY);

  const skipped = [...values].filter(([, v]) => v.length < MIN_LENGTH).map(([name, v]) => `${name} (${v.length} chars)`);
  t.comment(`values searched for: ${values.size - skipped.length}; skipped as shorter than ${MIN_LENGTH} chars: ${skipped.length ? skipped.join(', ') : 'none'}`);
  const searched = [...values].filter(([, v]) => v.length >= MIN_LENGTH);

  /** Every row of every table of the public schema, as JSON text. */
  async function dump(): Promise<Array<{ table: string; row: string }>> {
    const { rows: tables } = await kh.db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name",
    );
    const all: Array<{ table: string; row: string }> = [];
    for (const { table_name: table } of tables) {
      const { rows } = await kh.db.pool.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM public.${pg.escapeIdentifier(table)} t`);
      all.push(...rows.map(({ row }) => ({ table, row })));
    }
    return all;
  }
  const found = (rows: Array<{ table: string; row: string }>, value: string) => rows.filter((r) => r.row.includes(value)).map((r) => r.table);

  const rows = await dump();
  const tables = new Set(rows.map((r) => r.table));
  for (const table of ['users', 'clients', 'client_secrets', 'oidc_payloads', 'keys']) t.ok(tables.has(table), `table ${table} was read`);
  const { rows: models } = await kh.db.pool.query<{ model: string }>('SELECT DISTINCT model FROM oidc_payloads');
  const stored = new Set(models.map((m) => m.model));
  for (const model of ['AuthorizationCode', 'AccessToken', 'RefreshToken', 'ClientCredentials', 'Grant', 'Session', 'Interaction']) {
    t.ok(stored.has(model), `${model} rows are at rest and were scanned`);
  }
  const { rows: bytea } = await kh.db.pool.query(
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'bytea'",
  );
  t.same(bytea, [], 'no bytea column (row_to_json would show it hex-encoded, out of reach of a raw substring search)');

  for (const [name, value] of searched) t.same(found(rows, value), [], `${name} is stored nowhere`);
  t.same(await kh.db.pool.query('SELECT id FROM keys WHERE material IS NOT NULL OR sealed IS NULL').then((r) => r.rows), [], 'every key row is sealed, none in plaintext');

  t.test('the scan finds what is there', async (t) => {
    t.ok(found(rows, hybrid.client.id).includes('clients'), 'the client id is found in clients');
    t.ok(found(rows, username).includes('users'), 'the username is found in users');
    t.ok(found(rows, sha256(hybrid.secret)).includes('client_secrets'), "the secret's digest is found in client_secrets");
    t.ok(found(rows, sha256(String(exchanged.body.access_token))).includes('oidc_payloads'), "the access token's digest is found in oidc_payloads");
    // Every collected value, planted in a text and a jsonb column, is found: the encoding of rows hides none.
    await kh.db.pool.query('CREATE TABLE public.scan_canary (label text, note text, doc jsonb)');
    t.teardown(() => kh.db.pool.query('DROP TABLE IF EXISTS public.scan_canary'));
    for (const [name, value] of searched) {
      await kh.db.pool.query('INSERT INTO public.scan_canary VALUES ($1, $2, NULL), ($1, NULL, $3)', [name, `before ${value} after`, JSON.stringify({ nested: { value } })]);
    }
    const planted = (await dump()).filter((r) => r.table === 'scan_canary');
    t.equal(planted.length, searched.length * 2, 'the planted rows are read');
    for (const [name, value] of searched) {
      const own = planted.filter((r) => (JSON.parse(r.row) as { label: string }).label === name);
      t.equal(own.filter((r) => r.row.includes(value)).length, 2, `${name} is found once planted (in a text and in a jsonb column)`);
    }
  });

  t.test("a copied row id is no bearer token: the admin API refuses the admin token's row id", async (t) => {
    const { rows: tokenRows } = await kh.db.pool.query<{ id: string }>(
      "SELECT id FROM oidc_payloads WHERE model = 'ClientCredentials' AND client_id = $1",
      [admin.clientId],
    );
    t.equal(tokenRows.length, 1, "the admin client's one token row");
    const rowId = tokenRows[0]!.id;
    t.equal(rowId, sha256(admin.token), 'the row is filed under the SHA-256 of the token');
    t.equal((await apiFor(kh, admin.token)('GET', '/clients')).status, 200, 'the token itself works');
    const copied = await apiFor(kh, rowId)('GET', '/clients');
    t.equal(copied.status, 401, 'the row id does not');
    t.match(copied.headers.get('www-authenticate'), /error="invalid_token"/);
  });
});
