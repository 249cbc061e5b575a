import t, { type Test } from 'tap';
import { digest } from '../../src/crypto/digest.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, pkce, post, random, type TokenCall } from '../helpers/flow.ts';
import { oneLine, recordQueries, type QueryRecorder, type RecordedQuery } from '../helpers/queries.ts';

/**
 * Database round trips per request, in the steady state (clients cached, secrets' last use already
 * recorded this minute): every query made in this process while one request is in flight, and for
 * 50 ms after its answer was read, so work it sets off asynchronously counts too.
 */

const REDIRECT = 'https://app.example.com/callback';

async function measured(queries: QueryRecorder, request: () => Promise<TokenCall>): Promise<{ answer: TokenCall; seen: RecordedQuery[] }> {
  let answer: TokenCall | undefined;
  const seen = await queries.during(async () => {
    answer = await request();
  });
  return { answer: answer!, seen };
}

/** A provider row by the digest of its id (whatever else the statement reads along with it). */
const LOOKUP = /^\s*SELECT\b[\s\S]*?\bFROM oidc_payloads(?: p)?\s+WHERE (?:p\.)?id = (?:\$1\b|ANY \(\$1::text\[\]\))/;
const CONSUME = /^\s*WITH wanted AS \(\s*SELECT \* FROM unnest\(\$1::text\[\], \$2::text\[\]\) AS w\(model, id\)\s*\), updated AS \(\s*UPDATE oidc_payloads p SET consumed_at = now\(\)/;
const INSERT = /^\s*INSERT INTO oidc_payloads \(model, id, payload,/;
const USER_BY_ID = /^\s*SELECT [^;]+ FROM users WHERE id = (?:\$1|ANY \(\$1::uuid\[\]\))\s*$/;

/**
 * Names a query of the token endpoint: a lookup or consumption of a provider row (by the digest of a
 * value the test knows), a saved token (by model), or the account read. Anything else is 'unexpected'.
 */
function nameOf(query: RecordedQuery, known: Record<string, string>): string {
  const whose = (key: unknown) => Object.entries(known).find(([, value]) => digest(value) === key)?.[0] ?? 'something unknown';
  // Batched statements (db/batcher.ts) carry arrays; under this test's sequential requests each holds one row.
  const first = (value: unknown) => (Array.isArray(value) ? (value.length === 1 ? value[0] : `${value.length} rows`) : value);
  if (LOOKUP.test(query.sql)) return `find ${whose(first(query.values[0]))}`;
  if (CONSUME.test(query.sql)) return `consume ${String(first(query.values[0]))} ${whose(first(query.values[1]))}`;
  if (INSERT.test(query.sql)) return `save ${String(first(query.values[0]))}`;
  if (USER_BY_ID.test(query.sql)) return 'find account';
  return `unexpected: ${oneLine(query.sql)}`;
}

function report(t: Test, what: string, seen: RecordedQuery[], known: Record<string, string>) {
  t.comment(`${what}: ${seen.length} queries`);
  seen.forEach((query, i) => t.comment(`  ${i + 1}. ${nameOf(query, known)}: ${oneLine(query.sql, 110)}`));
}

/**
 * Each query is one of those `needed` (each at most once, so nothing is read twice), and there are at
 * most `bound` of them. Fewer is fine: an improvement should not fail this test.
 */
function withinBudget(t: Test, seen: RecordedQuery[], known: Record<string, string>, needed: Record<string, string>, bound: number) {
  const names = seen.map((q) => nameOf(q, known));
  t.ok(seen.length <= bound, `at most ${bound} round trips (saw ${seen.length})`);
  for (const name of names) t.ok(name in needed, `${name}: ${needed[name] ?? 'not one of the queries this grant needs'}`);
  t.same(names.filter((name, i) => names.indexOf(name) !== i), [], 'no query is made twice');
}

t.test('database round trips per grant', async (t) => {
  const kh: TestApp = await startTestApp(t);
  const queries = recordQueries(t);
  const creds = await createUser(kh.users);
  const web = await createClient(kh.clients, { allowRefreshToken: true, redirectUris: [REDIRECT] });
  const service = await createClient(kh.clients, { type: 'client-credentials', name: 'Service', redirectUris: [], postLogoutRedirectUris: [] });
  const cc = () => post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId: service.client.id, secret: service.secret });

  t.test('client_credentials grant: one query, the INSERT of the token', async (t) => {
    t.equal((await cc()).status, 200, 'warm-up: the client is cached, its secret touched');
    t.equal((await cc()).status, 200, 'warm-up');
    const { answer, seen } = await measured(queries, cc);
    report(t, 'client_credentials', seen, {});
    t.equal(answer.status, 200);
    t.equal(seen.length, 1, 'exactly one round trip');
    t.equal(nameOf(seen[0]!, {}), 'save ClientCredentials', 'the token is saved');
  });

  t.test('introspection of a client_credentials token: one query, the lookup', async (t) => {
    const token = String((await cc()).body.access_token);
    const introspect = () => post(`${kh.issuer}/token/introspection`, { token }, { clientId: service.client.id, secret: service.secret });
    t.equal((await introspect()).body.active, true, 'warm-up');
    const { answer, seen } = await measured(queries, introspect);
    report(t, 'introspection', seen, { token });
    t.equal(answer.status, 200);
    t.equal(answer.body.active, true);
    t.equal(answer.body.client_id, service.client.id);
    t.equal(seen.length, 1, 'exactly one round trip: the lookups as access token, client-credentials token and refresh token share it');
    t.equal(nameOf(seen[0]!, { token }), 'find token', 'the lookup by digest');
  });

  t.test('code exchange and refresh', async (t) => {
    const agent = new Agent();
    const signIn = async (withCredentials: boolean) => {
      const { verifier, challenge } = pkce();
      const out = await authorize(
        agent,
        kh.issuer,
        {
          client_id: web.client.id,
          redirect_uri: REDIRECT,
          response_type: 'code',
          scope: 'openid offline_access',
          state: random(),
          nonce: random(),
          code_challenge: challenge,
          code_challenge_method: 'S256',
        },
        withCredentials ? creds : {},
      );
      const code = out.params.get('code');
      if (!code) throw new Error(`no code: ${out.html?.slice(0, 300)}`);
      return { code, verifier };
    };
    const exchange = ({ code, verifier }: { code: string; verifier: string }) =>
      post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { clientId: web.client.id, secret: web.secret });
    const refresh = (refreshToken: string) =>
      post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { clientId: web.client.id, secret: web.secret });
    const grantOf = async (value: string) => {
      const { rows } = await kh.db.pool.query<{ grant_id: string }>('SELECT grant_id FROM oidc_payloads WHERE id = $1', [digest(value)]);
      return rows[0]!.grant_id;
    };

    // Warm-up: sign in, exchange and refresh once, so the client is cached and its secret touched.
    const warm = await exchange(await signIn(true));
    t.equal(warm.status, 200, 'warm-up exchange');
    t.equal((await refresh(String(warm.body.refresh_token))).status, 200, 'warm-up refresh');

    // The browser is signed in already: a second authorization request gives a code straight away.
    const code = await signIn(false);
    const exchanged = await measured(queries, () => exchange(code));
    t.equal(exchanged.answer.status, 200);
    t.type(exchanged.answer.body.refresh_token, 'string');
    const refreshToken = String(exchanged.answer.body.refresh_token);
    const codeKnown = { code: code.code, grant: await grantOf(code.code) };
    report(t, 'authorization_code exchange', exchanged.seen, codeKnown);
    withinBudget(
      t,
      exchanged.seen,
      codeKnown,
      {
        'find code': 'the code presented, with its grant (what it may still give) and its user (still enabled; the ID token claims) in the same statement',
        'consume AuthorizationCode code': 'the code works once: the conditional UPDATE makes one redemption win',
        'save AccessToken': 'the access token issued',
        'save RefreshToken': 'the refresh token issued (offline_access)',
      },
      4,
    );

    const refreshed = await measured(queries, () => refresh(refreshToken));
    t.equal(refreshed.answer.status, 200);
    t.type(refreshed.answer.body.refresh_token, 'string');
    const refreshKnown = { 'refresh token': refreshToken, grant: await grantOf(refreshToken) };
    report(t, 'refresh_token', refreshed.seen, refreshKnown);
    withinBudget(
      t,
      refreshed.seen,
      refreshKnown,
      {
        'find refresh token': 'the refresh token presented, with its grant and its user in the same statement',
        'consume RefreshToken refresh token': 'refresh tokens rotate: the presented one works once',
        'save AccessToken': 'the access token issued',
        'save RefreshToken': 'the rotated refresh token',
      },
      4,
    );

    // A user's access token: its grant and user come with it, so userinfo and introspection read once.
    const accessToken = String(refreshed.answer.body.access_token);
    const userinfo = () => fetch(`${kh.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as Record<string, unknown> }));
    t.equal((await userinfo()).status, 200, 'warm-up userinfo');
    const me = await measured(queries, userinfo);
    report(t, 'userinfo', me.seen, { 'access token': accessToken });
    t.equal(me.answer.status, 200);
    t.equal(me.answer.body.sub, creds.user.id);
    t.same(me.seen.map((q) => nameOf(q, { 'access token': accessToken })), ['find access token'], 'userinfo: one round trip, the token with its grant and user');
    const introspected = await measured(queries, () => post(`${kh.issuer}/token/introspection`, { token: accessToken }, { clientId: web.client.id, secret: web.secret }));
    t.match(introspected.answer.body, { active: true, sub: creds.user.id });
    t.same(introspected.seen.map((q) => nameOf(q, { 'access token': accessToken })), ['find access token'], 'introspection of a user token: one round trip');
  });
});
