import fc from 'fast-check';
import t from 'tap';
import { digest } from '../../src/crypto/digest.ts';
import { CONSOLE_CLIENT_ID } from '../../src/oidc/provider.ts';
import { startTestApp } from '../helpers/app.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { Agent, authorize, pkce, post, random } from '../helpers/flow.ts';
import { expect, FUZZ_ENV, holds, nasty, percentEncode, sane, snapshot, unchanged } from '../helpers/fuzz.ts';

/**
 * Property-based: whatever the authorization, token, end-session, introspection, revocation and
 * userinfo endpoints are sent, they never answer 5xx or show internals, and a refused request changes
 * nothing. Valid values (a live code and its verifier, tokens, ID tokens, registered URLs) are mixed
 * with arbitrary ones, so requests get past the first checks.
 */

const REDIRECT = 'https://app.example.com/callback';
const SIGNED_OUT = 'https://app.example.com/signed-out';
const SPA_REDIRECT = 'https://spa.example.com/cb';

/** Placeholders a generated request carries, replaced when it is sent by the live value they name. */
const LIVE = ['$code', '$verifier', '$access', '$refresh', '$idToken', '$ccToken', '$web', '$webSecret', '$spa', '$machine', '$machineSecret'] as const;
type Live = Record<(typeof LIVE)[number], string>;
const live = (name: (typeof LIVE)[number]) => fc.constant<string>(name);

/** A compact JWS-shaped value: arbitrary header and payload, signature or not. */
const jwtLike = fc
  .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.oneof(fc.constant(''), fc.base64String({ maxLength: 60 })))
  .map(([header, payload, signature]) => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`);
const unsignedJwt = fc
  .record({ alg: fc.constantFrom('none', 'RS256', 'HS256', 'ES256', 'None'), kid: fc.oneof(fc.string(), fc.constant(undefined)) }, { requiredKeys: ['alg'] })
  .chain((header) =>
    fc
      .record(
        {
          iss: fc.oneof(fc.webUrl(), nasty),
          aud: fc.oneof(live('$web'), fc.string()),
          sub: fc.string(),
          exp: fc.oneof(fc.integer(), fc.double(), nasty),
          client_id: fc.oneof(live('$web'), nasty),
          redirect_uri: fc.constantFrom(REDIRECT, 'https://evil.example.com/'),
          response_type: fc.constantFrom('code', 'code id_token', 'none'),
          scope: fc.constantFrom('openid', 'openid offline_access'),
          request: fc.string(),
          claims: fc.jsonValue({ maxDepth: 3 }),
        },
        { requiredKeys: [] },
      )
      .map((payload) => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`),
  );
const tokenish = fc.oneof(
  { weight: 2, arbitrary: nasty },
  { weight: 1, arbitrary: jwtLike },
  { weight: 1, arbitrary: fc.base64String({ minLength: 40, maxLength: 50 }).map((s) => s.replace(/[=+/]/g, 'A')) },
);
const anyValue = fc.oneof({ weight: 3, arbitrary: nasty }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) });
const urlValue = fc.oneof(
  fc.constantFrom(REDIRECT, SPA_REDIRECT, SIGNED_OUT, `${REDIRECT}?x=1`, `${REDIRECT}#f`, 'HTTPS://APP.EXAMPLE.COM/callback', 'https://app.example.com/callback/', 'http://127.0.0.1:9/cb', 'javascript:alert(1)'),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  nasty,
);
const clientIdValue = fc.oneof(live('$web'), live('$spa'), live('$machine'), fc.constant(CONSOLE_CLIENT_ID), fc.uuid(), nasty);

/** Each known parameter of the authorization endpoint with values that mean something to it. */
const AUTH_PARAMS: Record<string, fc.Arbitrary<string>> = {
  client_id: clientIdValue,
  redirect_uri: urlValue,
  response_type: fc.oneof(fc.constantFrom('code', 'code id_token', 'id_token', 'token', 'none', 'code token', 'id_token code', 'code  id_token', 'CODE'), nasty),
  response_mode: fc.oneof(fc.constantFrom('query', 'fragment', 'form_post', 'jwt', 'query.jwt', 'web_message'), nasty),
  scope: fc.oneof(fc.constantFrom('openid', 'openid offline_access', 'openid admin', 'openid profile email', 'profile', '', 'openid openid'), nasty),
  state: anyValue,
  nonce: anyValue,
  prompt: fc.oneof(fc.constantFrom('none', 'login', 'consent', 'select_account', 'login consent', 'none login', 'create'), nasty),
  max_age: fc.oneof(fc.constantFrom('0', '1', '-1', '3600', '1e9', '99999999999999999999', '1.5', '0x10', ' 1'), nasty),
  code_challenge: fc.oneof(fc.constant(pkce().challenge), fc.stringMatching(/^[A-Za-z0-9_-]{0,130}$/), nasty),
  code_challenge_method: fc.oneof(fc.constantFrom('S256', 'plain', 's256', 'S512'), nasty),
  claims: fc.oneof(
    fc.constantFrom(
      '{"id_token":{"email":{"essential":true}}}',
      '{"userinfo":{"name":null,"email":{"values":["a"]}}}',
      '{"id_token":{"sub":{"value":"x"}}}',
      '{"id_token":{"acr":{"values":[1,2]}}}',
      '{"userinfo":null}',
      '{"id_token":[]}',
      '[]',
      'null',
      '{"__proto__":{"id_token":{}}}',
      '{"id_token":{"\\ud800":null}}',
      '{"userinfo":{"a\\u0000b":{"essential":true}}}',
      '{"id_token":{"email":{"value":"\\u0000"}}}',
    ),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    nasty,
  ),
  request: fc.oneof(unsignedJwt, jwtLike, nasty),
  request_uri: fc.oneof(fc.constantFrom('urn:ietf:params:oauth:request_uri:abc', 'https://app.example.com/request.jwt'), nasty),
  login_hint: anyValue,
  ui_locales: fc.oneof(fc.constantFrom('en', 'en-US fr', 'xx', ''), nasty),
  id_token_hint: fc.oneof(live('$idToken'), jwtLike, unsignedJwt, live('$access'), nasty),
  acr_values: anyValue,
  display: fc.oneof(fc.constantFrom('page', 'popup', 'touch', 'wap'), nasty),
  resource: urlValue,
  authorization_details: anyValue,
  registration: anyValue,
  dpop_jkt: anyValue,
  claims_locales: anyValue,
};

/** Pairs (a key may come twice) for a request: a valid request with a few parameters changed, or anything. */
function pairsFrom(params: Record<string, fc.Arbitrary<string>>, bases: fc.Arbitrary<Array<[string, string]>>): fc.Arbitrary<Array<[string, string]>> {
  const known = Object.keys(params);
  const pair = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known).chain((key) => params[key]!.map((value): [string, string] => [key, value])) },
    { weight: 1, arbitrary: fc.tuple(nasty, anyValue) },
  );
  const change = fc.record({ pair, mode: fc.constantFrom('set', 'set', 'set', 'append', 'delete') });
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(bases, fc.array(change, { minLength: 1, maxLength: 3 })).map(([base, changes]) => {
        let pairs = [...base];
        for (const { pair: [key, value], mode } of changes) {
          if (mode === 'delete') pairs = pairs.filter(([k]) => k !== key);
          else if (mode === 'set') pairs = [...pairs.filter(([k]) => k !== key), [key, value]];
          else pairs.push([key, value]);
        }
        return pairs;
      }),
    },
    { weight: 1, arbitrary: fc.array(pair, { maxLength: 8 }) },
  );
}

const authBases = fc.constantFrom<Array<[string, string]>>(
  [
    ['client_id', '$web'],
    ['redirect_uri', REDIRECT],
    ['response_type', 'code'],
    ['scope', 'openid'],
    ['state', 'st'],
    ['nonce', 'n'],
    ['code_challenge', pkce().challenge],
    ['code_challenge_method', 'S256'],
  ],
  [
    ['client_id', '$web'],
    ['redirect_uri', REDIRECT],
    ['response_type', 'code id_token'],
    ['response_mode', 'form_post'],
    ['scope', 'openid offline_access profile'],
    ['nonce', 'n'],
  ],
  [
    ['client_id', '$spa'],
    ['redirect_uri', SPA_REDIRECT],
    ['response_type', 'code'],
    ['scope', 'openid'],
    ['code_challenge', pkce().challenge],
    ['code_challenge_method', 'S256'],
  ],
);

const TOKEN_PARAMS: Record<string, fc.Arbitrary<string>> = {
  grant_type: fc.oneof(
    fc.constantFrom('authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'urn:openid:params:grant-type:ciba', 'AUTHORIZATION_CODE', ''),
    nasty,
  ),
  code: fc.oneof(live('$code'), live('$refresh'), live('$access'), tokenish),
  refresh_token: fc.oneof(live('$refresh'), live('$code'), live('$access'), tokenish),
  redirect_uri: urlValue,
  code_verifier: fc.oneof(live('$verifier'), fc.stringMatching(/^[A-Za-z0-9._~-]{0,140}$/), nasty),
  scope: fc.oneof(fc.constantFrom('openid', 'admin', 'openid offline_access', 'openid profile', ''), nasty),
  client_id: clientIdValue,
  client_secret: fc.oneof(live('$webSecret'), live('$machineSecret'), nasty),
  client_assertion: fc.oneof(jwtLike, unsignedJwt, nasty),
  client_assertion_type: fc.oneof(fc.constant('urn:ietf:params:oauth:client-assertion-type:jwt-bearer'), nasty),
  resource: urlValue,
  audience: anyValue,
  username: anyValue,
  password: anyValue,
  device_code: tokenish,
  auth_req_id: tokenish,
};
const tokenBases = fc.constantFrom<Array<[string, string]>>(
  [
    ['grant_type', 'authorization_code'],
    ['code', '$code'],
    ['redirect_uri', REDIRECT],
    ['code_verifier', '$verifier'],
  ],
  [
    ['grant_type', 'refresh_token'],
    ['refresh_token', '$refresh'],
  ],
  [
    ['grant_type', 'client_credentials'],
    ['scope', 'openid'],
  ],
);

/** How a request authenticates its client; `post` puts the client's id and secret in the body. */
type ClientAuth =
  | { kind: 'none' }
  | { kind: 'basic'; id: string; secret: string }
  | { kind: 'post'; id: string; secret: string }
  | { kind: 'header'; value: string };
const latin1 = (s: string) => s.replace(/[^\x20-\x7e\xa0-\xff]/g, '');
/** client_secret_basic as RFC 6749 2.3.1 has it: each part form-encoded, then base64. */
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${percentEncode(id)}:${percentEncode(secret)}`).toString('base64')}`;
/** What a browser sends, and what other callers might. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const accept = fc.oneof({ weight: 3, arbitrary: fc.constant<string | undefined>(BROWSER_ACCEPT) }, { weight: 1, arbitrary: fc.constantFrom<string | undefined>('*/*', 'application/json', 'text/plain', undefined) });
const clientAuth: fc.Arbitrary<ClientAuth> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<ClientAuth>({ kind: 'basic', id: '$web', secret: '$webSecret' }) },
  { weight: 2, arbitrary: fc.constant<ClientAuth>({ kind: 'basic', id: '$machine', secret: '$machineSecret' }) },
  { weight: 1, arbitrary: fc.constant<ClientAuth>({ kind: 'post', id: '$web', secret: '$webSecret' }) },
  { weight: 1, arbitrary: fc.constant<ClientAuth>({ kind: 'none' }) },
  { weight: 2, arbitrary: fc.tuple(clientIdValue, fc.oneof(live('$webSecret'), live('$machineSecret'), nasty), fc.constantFrom<'basic' | 'post'>('basic', 'post')).map(([id, secret, kind]): ClientAuth => ({ kind, id, secret })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom('Basic', 'Basic ', 'Basic %%%', 'Basic Og==', 'Basic ' + Buffer.from('a:b:c').toString('base64'), 'Basic ' + Buffer.from('%zz:%zz').toString('base64'), 'Bearer x', 'basic', 'Digest x', 'Basic Zm9v', 'Basic =', 'Basic ' + 'A'.repeat(5000)),
        fc.tuple(fc.constantFrom('Basic ', 'Bearer ', ''), fc.oneof(fc.base64String({ maxLength: 80 }), nasty)).map(([scheme, rest]) => `${scheme}${rest}`),
        fc.tuple(nasty, nasty).map(([a, b]) => `Basic ${Buffer.from(`${a}:${b}`).toString('base64')}`),
      )
      .map((value): ClientAuth => ({ kind: 'header', value: latin1(value) })),
  },
);

const FORM = 'application/x-www-form-urlencoded';
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant<string | undefined>(FORM) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string | undefined>(
      'application/json',
      'text/plain',
      'multipart/form-data; boundary=x',
      `${FORM}; charset=utf-16`,
      `${FORM}; charset=bogus`,
      `${FORM}; charset=iso-8859-1`,
      'APPLICATION/X-WWW-FORM-URLENCODED',
      ';',
      undefined,
    ),
  },
);
/** A form body built from pairs, or now and then raw bytes. */
const formBody = (pairs: fc.Arbitrary<Array<[string, string]>>) =>
  fc.oneof(
    { weight: 6, arbitrary: pairs.map((p) => ({ pairs: p, raw: undefined as string | undefined })) },
    { weight: 1, arbitrary: fc.oneof(nasty, fc.constantFrom('a=%zz', '=&=&', 'grant_type', '%', 'a=1&a=2&a=3', 'grant_type=authorization_code&grant_type=refresh_token')).map((raw) => ({ pairs: [] as Array<[string, string]>, raw })) },
  );

interface Sent {
  status: number;
  headers: Headers;
  text: string;
  request: string;
}

t.test('the OIDC endpoints under arbitrary input', async (t) => {
  const kh = await startTestApp(t, { env: FUZZ_ENV });
  const creds = await createUser(kh.users);
  const web = await createClient(kh.clients, { allowRefreshToken: true });
  const machine = await createClient(kh.clients, { type: 'client-credentials', name: 'Machine', redirectUris: [], postLogoutRedirectUris: [] });
  const spa = (await kh.clients.create({ type: 'authorization-code', name: 'SPA', redirectUris: [SPA_REDIRECT], postLogoutRedirectUris: [] })).client;

  // One signed-in browser mints the live codes and tokens; each run starts from a copy of its cookies.
  const signedIn = new Agent();
  const values: Live = {
    $code: '',
    $verifier: '',
    $access: '',
    $refresh: '',
    $idToken: '',
    $ccToken: '',
    $web: web.client.id,
    $webSecret: web.secret,
    $spa: spa.id,
    $machine: machine.client.id,
    $machineSecret: machine.secret,
  };
  let codeMintedAt = 0;
  let signedInOnce = false;

  async function freshCode() {
    const { verifier, challenge } = pkce();
    const out = await authorize(
      signedIn,
      kh.issuer,
      {
        client_id: web.client.id,
        redirect_uri: REDIRECT,
        response_type: 'code id_token',
        response_mode: 'form_post',
        scope: 'openid profile offline_access',
        state: random(),
        nonce: random(),
        code_challenge: challenge,
        code_challenge_method: 'S256',
      },
      signedInOnce ? {} : creds,
    );
    const code = out.params.get('code');
    if (!code) throw new Error(`no code: ${out.params.toString() || out.html?.slice(0, 400)}`);
    signedInOnce = true;
    return { code, verifier, idToken: out.params.get('id_token')! };
  }

  /** A code redeemed for an access token, a refresh token and an ID token, and a client-credentials token. */
  async function mintTokens() {
    const { code, verifier } = await freshCode();
    const answer = await post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, { clientId: web.client.id, secret: web.secret });
    if (answer.status !== 200) throw new Error(`no tokens: ${JSON.stringify(answer.body)}`);
    values.$access = answer.body.access_token as string;
    values.$refresh = answer.body.refresh_token as string;
    values.$idToken = answer.body.id_token as string;
  }
  async function mintCode() {
    const { code, verifier } = await freshCode();
    values.$code = code;
    values.$verifier = verifier;
    codeMintedAt = Date.now();
  }
  async function mintCcToken() {
    const answer = await post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId: machine.client.id, secret: machine.secret });
    if (answer.status !== 200) throw new Error(`no client-credentials token: ${JSON.stringify(answer.body)}`);
    values.$ccToken = answer.body.access_token as string;
  }
  await mintTokens();
  await mintCode();
  await mintCcToken();
  t.ok(values.$refresh && values.$idToken && values.$access && values.$code && values.$ccToken, 'live values minted');

  /** After a request that may have used some up: a live value that is gone, consumed or about to expire is minted again. */
  async function keepLive() {
    const { rows } = await kh.db.pool.query<{ id: string; consumed: boolean }>(
      `SELECT id, consumed_at IS NOT NULL AS consumed FROM oidc_payloads WHERE id = ANY ($1) AND (expires_at IS NULL OR expires_at > now() + interval '15 seconds')`,
      [[values.$code, values.$access, values.$refresh, values.$ccToken].map(digest)],
    );
    const usable = new Set(rows.filter((r) => !r.consumed).map((r) => r.id));
    if (!usable.has(digest(values.$access)) || !usable.has(digest(values.$refresh))) await mintTokens();
    if (!usable.has(digest(values.$code)) || Date.now() - codeMintedAt > 40_000) await mintCode();
    if (!usable.has(digest(values.$ccToken))) await mintCcToken();
  }
  // Let the off-path writes of the minting (a secret's lastUsedAt) land before the first snapshot.
  await new Promise((resolve) => setTimeout(resolve, 200));

  const resolve = (value: string) => ((LIVE as readonly string[]).includes(value) ? values[value as keyof Live] : value);
  const query = (pairs: Array<[string, string]>) => {
    const params = new URLSearchParams();
    for (const [k, v] of pairs) params.append(resolve(k), resolve(v));
    return params.toString();
  };
  const agentFor = (session: boolean) => {
    const agent = new Agent();
    if (session) for (const [k, v] of signedIn.cookies) agent.cookies.set(k, v);
    return agent;
  };

  async function send(agent: Agent, method: string, path: string, options: { pairs?: Array<[string, string]>; raw?: string; contentType?: string; auth?: ClientAuth; inQuery?: boolean; accept?: string | undefined } = {}): Promise<Sent> {
    const headers: Record<string, string> = {};
    const pairs = [...(options.pairs ?? [])];
    const auth = options.auth ?? { kind: 'none' };
    if (auth.kind === 'basic') headers.authorization = basic(resolve(auth.id), resolve(auth.secret));
    if (options.accept !== undefined) headers.accept = options.accept;
    if (auth.kind === 'header') headers.authorization = auth.value;
    if (auth.kind === 'post') pairs.push(['client_id', auth.id], ['client_secret', auth.secret]);
    const encoded = options.raw ?? query(pairs);
    let url = `${kh.issuer}${path}`;
    let body: string | undefined;
    if (options.inQuery || method === 'GET') url += encoded ? `?${encoded}` : '';
    else {
      body = encoded;
      if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    }
    const response = await agent.fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, request: `${method} ${url} ${JSON.stringify(headers)} ${body ?? ''}` };
  }

  /** The OAuth error JSON the token, introspection and revocation endpoints answer a refusal with. */
  const oauthError = (answer: Sent) => {
    if (answer.status === 431) return;
    expect(/^application\/json/.test(answer.headers.get('content-type') ?? ''), 'an error that is not JSON', answer.text);
    const body = JSON.parse(answer.text) as { error?: unknown };
    expect(typeof body.error === 'string' && body.error.length > 0, 'an error without `error`', answer.text);
  };
  /** A page for a browser: HTML, never JSON. */
  const htmlPage = (answer: Sent) => {
    // Node's HTTP parser refuses a request line and headers over 16 KiB before Keyhold sees the request.
    if (answer.status === 431) return;
    expect(/^text\/html/.test(answer.headers.get('content-type') ?? ''), 'a browser error that is not an HTML page', `${answer.headers.get('content-type')}\n${answer.text}`);
    expect(/<html/.test(answer.text), 'not an HTML page', answer.text);
  };
  /** A refusal at a browser endpoint: a page for a browser, the OAuth error JSON for anything else. */
  const browserRefusal = (answer: Sent, accept: string | undefined) => (accept === BROWSER_ACCEPT || answer.status === 431 ? htmlPage(answer) : oauthError(answer));

  const seen = new Map<string, number>();
  const spread = (name: string, needAccepted = true) => {
    const shown = [...seen].sort().map(([k, n]) => `${k}×${n}`).join(' ');
    const keys = [...seen.keys()];
    t.ok(keys.includes('refused') && (!needAccepted || keys.includes('accepted')), `${name}: refusals${needAccepted ? ' and acceptances' : ''} reached: ${shown}`);
    seen.clear();
  };
  const count = (outcome: string) => seen.set(outcome, (seen.get(outcome) ?? 0) + 1);

  /** Where an authorization request went: refused (an error page, or an error sent to the app) or accepted. */
  function authOutcome(answer: Sent): 'refused' | 'accepted' {
    if (answer.status >= 400) return 'refused';
    const location = answer.headers.get('location');
    if (location) {
      const url = new URL(location, kh.origin);
      const params = new URLSearchParams(url.hash ? url.hash.slice(1) : url.search);
      return params.has('error') ? 'refused' : 'accepted';
    }
    if (/name="error"/.test(answer.text)) return 'refused';
    return 'accepted';
  }

  await keepLive();
  await holds(
    t,
    'GET /auth with arbitrary parameters',
    250,
    fc.record({ pairs: pairsFrom(AUTH_PARAMS, authBases), session: fc.boolean(), accept }),
    async ({ pairs, session, accept }) => {
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(session), 'GET', '/auth', { pairs, accept });
      sane(answer.status, answer.text, answer.request);
      const outcome = authOutcome(answer);
      count(outcome);
      if (answer.status >= 400) htmlPage(answer);
      if (outcome === 'refused') unchanged(before, await snapshot(kh.db.pool), `a refused authorization request (${answer.status})`);
      else await keepLive();
    },
  );
  spread('GET /auth');

  await keepLive();
  await holds(
    t,
    'POST /auth (a form) with arbitrary bodies',
    80,
    fc.record({ body: formBody(pairsFrom(AUTH_PARAMS, authBases)), contentType, session: fc.boolean(), accept }),
    async ({ body, contentType, session, accept }) => {
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(session), 'POST', '/auth', { pairs: body.pairs, ...(body.raw !== undefined ? { raw: body.raw } : {}), ...(contentType !== undefined ? { contentType } : {}), accept });
      sane(answer.status, answer.text, answer.request);
      const outcome = authOutcome(answer);
      count(outcome);
      if (outcome === 'refused') unchanged(before, await snapshot(kh.db.pool), `a refused authorization request (${answer.status})`);
      else await keepLive();
    },
  );
  spread('POST /auth', false);

  await keepLive();
  await holds(
    t,
    'POST /token with arbitrary grants, values, client authentication and bodies',
    300,
    fc.record({ body: formBody(pairsFrom(TOKEN_PARAMS, tokenBases)), contentType, auth: clientAuth }),
    async ({ body, contentType, auth }) => {
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(false), 'POST', '/token', { pairs: body.pairs, ...(body.raw !== undefined ? { raw: body.raw } : {}), ...(contentType !== undefined ? { contentType } : {}), auth });
      sane(answer.status, answer.text, answer.request);
      count(answer.status < 300 ? 'accepted' : 'refused');
      if (answer.status >= 400) {
        oauthError(answer);
        unchanged(before, await snapshot(kh.db.pool), `a refused token request (${answer.status})`);
      } else {
        await keepLive();
      }
    },
  );
  spread('POST /token');

  await keepLive();
  await holds(
    t,
    'other methods and paths at the token endpoint',
    60,
    fc.record({ method: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), path: fc.constantFrom('/token', '/token/', '/token/x', '/token/introspection/x'), pairs: pairsFrom(TOKEN_PARAMS, tokenBases), auth: clientAuth }),
    async ({ method, path, pairs, auth }) => {
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(false), method, path, { pairs, auth, inQuery: true });
      sane(answer.status, answer.text, answer.request);
      if (answer.status >= 400) unchanged(before, await snapshot(kh.db.pool), `a refused ${method} ${path} (${answer.status})`);
    },
  );

  const INTROSPECTION_PARAMS: Record<string, fc.Arbitrary<string>> = {
    token: fc.oneof(live('$access'), live('$refresh'), live('$ccToken'), live('$idToken'), live('$code'), tokenish),
    token_type_hint: fc.oneof(fc.constantFrom('access_token', 'refresh_token', 'client_credentials', 'id_token', 'urn:ietf:params:oauth:token-type:jwt'), nasty),
    client_id: clientIdValue,
  };
  const introspectionBases = fc.constantFrom<Array<[string, string]>>([['token', '$access']], [['token', '$refresh'], ['token_type_hint', 'refresh_token']], [['token', '$ccToken']]);

  await keepLive();
  await holds(
    t,
    'POST /token/introspection: never a change, whatever is sent',
    200,
    fc.record({ body: formBody(pairsFrom(INTROSPECTION_PARAMS, introspectionBases)), contentType, auth: clientAuth }),
    async ({ body, contentType, auth }) => {
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(false), 'POST', '/token/introspection', { pairs: body.pairs, ...(body.raw !== undefined ? { raw: body.raw } : {}), ...(contentType !== undefined ? { contentType } : {}), auth });
      sane(answer.status, answer.text, answer.request);
      count(answer.status < 300 ? 'accepted' : 'refused');
      if (answer.status >= 400) oauthError(answer);
      unchanged(before, await snapshot(kh.db.pool), `introspection (${answer.status})`);
    },
  );
  spread('POST /token/introspection');

  await keepLive();
  await holds(
    t,
    'POST /token/revocation with arbitrary tokens and hints',
    200,
    fc.record({ body: formBody(pairsFrom(INTROSPECTION_PARAMS, introspectionBases)), contentType, auth: clientAuth }),
    async ({ body, contentType, auth }) => {
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(false), 'POST', '/token/revocation', { pairs: body.pairs, ...(body.raw !== undefined ? { raw: body.raw } : {}), ...(contentType !== undefined ? { contentType } : {}), auth });
      sane(answer.status, answer.text, answer.request);
      count(answer.status < 300 ? 'accepted' : 'refused');
      if (answer.status >= 400) {
        oauthError(answer);
        unchanged(before, await snapshot(kh.db.pool), `a refused revocation (${answer.status})`);
      } else {
        await keepLive();
      }
    },
  );
  spread('POST /token/revocation');

  await keepLive();
  await holds(
    t,
    'GET and POST /me: never a change, whatever is sent',
    100,
    fc.record({
      method: fc.constantFrom('GET', 'POST'),
      auth: fc.oneof(
        fc.constantFrom('$access', '$ccToken', '$idToken', '$refresh').map((name) => ({ kind: 'header' as const, value: `Bearer ${name}` })),
        clientAuth,
      ),
      pairs: fc.array(fc.tuple(fc.constantFrom('access_token', 'scope', 'claims'), fc.oneof(live('$access'), tokenish)), { maxLength: 2 }),
    }),
    async ({ method, auth, pairs }) => {
      const resolved: ClientAuth = auth.kind === 'header' ? { kind: 'header', value: auth.value.replace(/\$\w+/, (name) => resolve(name)) } : auth;
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(false), method, '/me', { pairs, auth: resolved, contentType: FORM });
      sane(answer.status, answer.text, answer.request);
      if (answer.status >= 400) oauthError(answer);
      unchanged(before, await snapshot(kh.db.pool), `userinfo (${answer.status})`);
    },
  );

  const END_SESSION_PARAMS: Record<string, fc.Arbitrary<string>> = {
    id_token_hint: fc.oneof(live('$idToken'), unsignedJwt, jwtLike, live('$access'), nasty),
    post_logout_redirect_uri: urlValue,
    state: anyValue,
    client_id: clientIdValue,
    logout_hint: anyValue,
    ui_locales: fc.oneof(fc.constantFrom('en', 'de fr'), nasty),
  };
  const endSessionBases = fc.constantFrom<Array<[string, string]>>(
    [
      ['id_token_hint', '$idToken'],
      ['post_logout_redirect_uri', SIGNED_OUT],
      ['state', 'st'],
    ],
    [
      ['client_id', '$web'],
      ['post_logout_redirect_uri', SIGNED_OUT],
    ],
    [],
  );

  await keepLive();
  await holds(
    t,
    'GET /session/end with arbitrary parameters',
    200,
    fc.record({ pairs: pairsFrom(END_SESSION_PARAMS, endSessionBases), session: fc.boolean(), accept }),
    async ({ pairs, session, accept }) => {
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(session), 'GET', '/session/end', { pairs, accept });
      sane(answer.status, answer.text, answer.request);
      count(answer.status < 300 ? 'accepted' : 'refused');
      if (answer.status >= 400) {
        browserRefusal(answer, accept);
        unchanged(before, await snapshot(kh.db.pool), `a refused end-session request (${answer.status})`);
      }
    },
  );
  spread('/session/end');

  await keepLive();
  await holds(
    t,
    'POST /session/end/confirm with arbitrary forms',
    100,
    fc.record({
      pairs: fc.array(fc.tuple(fc.oneof(fc.constantFrom('xsrf', 'logout'), nasty), fc.oneof(fc.constantFrom('yes', 'no', ''), nasty)), { maxLength: 4 }),
      contentType,
      session: fc.boolean(),
      accept,
    }),
    async ({ pairs, contentType, session, accept }) => {
      const before = await snapshot(kh.db.pool);
      const answer = await send(agentFor(session), 'POST', '/session/end/confirm', { pairs, ...(contentType !== undefined ? { contentType } : {}), accept });
      sane(answer.status, answer.text, answer.request);
      if (answer.status >= 400) {
        browserRefusal(answer, accept);
        unchanged(before, await snapshot(kh.db.pool), `a refused logout confirmation (${answer.status})`);
      }
    },
  );

  // The browser that minted everything is still signed in: no refused request ended its session.
  const { rows } = await kh.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM oidc_payloads WHERE model = 'Session' AND payload ? 'accountId'`);
  t.ok(rows[0]!.n >= 1, 'the signed-in session is still there');
});

t.test('a parameter Postgres cannot store (U+0000) is an invalid_request, not a 500', async (t) => {
  const kh = await startTestApp(t, { env: FUZZ_ENV });
  const creds = await createUser(kh.users);
  const { client } = await createClient(kh.clients);
  const request = (extra: Record<string, string>) => ({
    client_id: client.id,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    state: 'st',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  const interactions = async () => (await kh.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM oidc_payloads WHERE model = 'Interaction'`)).rows[0]!.n;

  const before = await interactions();
  for (const extra of [{ state: 'a\u0000b' }, { nonce: '\u0000' }, { login_hint: 'x\u0000' }] as Array<Record<string, string>>) {
    const out = await authorize(new Agent(), kh.issuer, request(extra));
    t.equal(out.target, REDIRECT, `${JSON.stringify(extra)}: the error goes to the app`);
    t.equal(out.params.get('error'), 'invalid_request');
  }
  t.equal(await interactions(), before, 'no interaction was stored');

  // Signed in, the request reaches the code, which stores the nonce and the state.
  const agent = new Agent();
  t.ok((await authorize(agent, kh.issuer, request({}), creds)).params.get('code'), 'signed in');
  const refused = await authorize(agent, kh.issuer, request({ nonce: 'n\u0000' }));
  t.equal(refused.params.get('error'), 'invalid_request', 'a nonce holding U+0000: invalid_request');
  t.notOk(refused.params.get('code'));
  const echoed = await authorize(agent, kh.issuer, request({ state: 'a\u0000b' }));
  t.ok(echoed.params.get('code'), 'a state holding U+0000 is not stored with the code: a code');
  t.equal(echoed.params.get('state'), 'a\u0000b', 'and the state comes back as sent');
  t.ok((await authorize(agent, kh.issuer, request({}))).params.get('code'), 'still signed in: a well-formed request gets a code');

  const html = await fetch(`${kh.issuer}/session/end?state=%00`, { headers: { accept: 'text/html' } });
  t.equal(html.status, 400, 'end-session: 400');
  t.match(html.headers.get('content-type'), /^text\/html/);
  t.match(await html.text(), /Sign-out could not continue[\s\S]*invalid_request/);
  const json = await fetch(`${kh.issuer}/session/end?state=%00`);
  t.equal(json.status, 400);
  t.match(await json.json(), { error: 'invalid_request', error_description: /U\+0000/ });
});

t.test('a resource indicator at the token endpoint uses up neither the code nor the refresh token', async (t) => {
  const kh = await startTestApp(t, { env: FUZZ_ENV });
  const creds = await createUser(kh.users);
  const { client, secret } = await createClient(kh.clients, { allowRefreshToken: true });
  const auth = { clientId: client.id, secret };
  const { verifier, challenge } = pkce();
  const out = await authorize(
    new Agent(),
    kh.issuer,
    { client_id: client.id, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid offline_access', code_challenge: challenge, code_challenge_method: 'S256' },
    creds,
  );
  const code = out.params.get('code')!;
  const resource = 'https://api.example.com/';
  const exchanged = await post(`${kh.issuer}/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, resource }, auth);
  t.equal(exchanged.status, 200, 'the code is redeemed (Keyhold has no resource servers: the indicator is ignored)');
  const refreshed = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: String(exchanged.body.refresh_token), resource }, auth);
  t.equal(refreshed.status, 200, 'the refresh token is redeemed');
  const again = await post(`${kh.issuer}/token`, { grant_type: 'refresh_token', refresh_token: String(refreshed.body.refresh_token) }, auth);
  t.equal(again.status, 200, 'the rotated refresh token works: the grant was not revoked');
});
