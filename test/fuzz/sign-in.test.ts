import fc from 'fast-check';
import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { Agent, loginForm, postSignIn } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { pkce } from '../helpers/flow.ts';
import { expect, FUZZ_ENV, holds, nasty, oddText, percentEncode, sane, snapshot, unchanged } from '../helpers/fuzz.ts';

/**
 * Property-based: whatever is posted to the sign-in form (and its cancel button), with whatever uid,
 * cookies and content type, Keyhold answers a readable HTML page or a redirect, never 5xx, JSON or a
 * stack, and a refused submission changes nothing.
 *
 * Only a form with the live CSRF token reaches the password check (argon2, ~50 ms each): the
 * generators keep those to about one run in five.
 */

const REDIRECT = 'https://app.example.com/callback';
const FORM = 'application/x-www-form-urlencoded';
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** Placeholders replaced, when a request is sent, by the live interaction's values. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- only its type is used (Live): the one list of the names
const LIVE = ['$uid', '$csrf', '$username', '$password', '$otherCsrf'] as const;
type Live = Record<(typeof LIVE)[number], string>;

const field = (live: fc.Arbitrary<string>) => fc.oneof({ weight: 2, arbitrary: live }, { weight: 3, arbitrary: nasty });
const FIELDS: Record<string, fc.Arbitrary<string>> = {
  username: field(fc.constantFrom('$username', '$USERNAME')),
  password: field(fc.constant('$password')),
  csrf: fc.oneof({ weight: 1, arbitrary: fc.constantFrom('$csrf', '$otherCsrf') }, { weight: 4, arbitrary: nasty }),
  'username[]': nasty,
  'csrf[0]': fc.constant('$csrf'),
  'password[a]': nasty,
  ['__proto__']: nasty,
  constructor: nasty,
};

const anyField = fc.constantFrom(...Object.keys(FIELDS)).chain((k) => FIELDS[k]!.map((v): [string, string] => [k, v]));
/**
 * Form fields: the form as the page sends it with a field or two changed, dropped or sent twice; the
 * three fields with arbitrary values, some missing; or anything.
 */
const pairs = fc.oneof(
  {
    // The form as sent, with the username or the password replaced: these reach the password check.
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom('username', 'password'), fc.oneof(nasty, oddText)).map(([key, value]): Array<[string, string]> => [
      ['csrf', '$csrf'],
      ['username', key === 'username' ? value : '$username'],
      ['password', key === 'password' ? value : '$password'],
    ]),
  },
  {
    weight: 2,
    arbitrary: fc.array(fc.record({ pair: anyField, mode: fc.constantFrom('set', 'delete', 'append') }), { maxLength: 2 }).map((changes) => {
      let form: Array<[string, string]> = [
        ['csrf', '$csrf'],
        ['username', '$username'],
        ['password', '$password'],
      ];
      for (const { pair, mode } of changes) {
        if (mode === 'append') form.push(pair);
        else form = [...form.filter(([k]) => k !== pair[0]), ...(mode === 'set' ? [pair] : [])];
      }
      return form;
    }),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.subarray(['username', 'password', 'csrf']).chain((keys) => fc.tuple(...keys.map((k) => FIELDS[k]!.map((v): [string, string] => [k, v])))),
        fc.array(anyField, { maxLength: 2 }),
      )
      .map(([base, extra]) => [...base, ...extra]),
  },
  { weight: 1, arbitrary: fc.array(fc.tuple(nasty, nasty), { maxLength: 5 }) },
);

type Body =
  | { kind: 'form'; pairs: Array<[string, string]>; contentType: string }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: string; contentType: string | undefined }
  | { kind: 'none' };
const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(pairs, fc.constantFrom(FORM, FORM, FORM, `${FORM}; charset=utf-8`, `${FORM}; charset=bogus`, 'Application/X-WWW-Form-Urlencoded')).map(([p, contentType]): Body => ({ kind: 'form', pairs: p, contentType })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        pairs.map((p) => Object.fromEntries(p) as unknown),
        fc.record({ username: fc.oneof(fc.constant('$username'), fc.jsonValue()), password: fc.oneof(fc.constant('$password'), fc.jsonValue()), csrf: fc.oneof(fc.constant('$csrf'), fc.jsonValue()) }, { requiredKeys: [] }),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map((value): Body => ({ kind: 'json', value })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        text: fc.oneof(nasty, fc.constantFrom('username=a&password=b&csrf=%zz', '%', '=&&=', 'csrf', '{"username":', 'a'.repeat(70 * 1024), `csrf=${'x'.repeat(70 * 1024)}`, '--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n$csrf\r\n--x--')),
        contentType: fc.constantFrom<string | undefined>(FORM, 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', ';', '', undefined),
      })
      .map(({ text, contentType }): Body => ({ kind: 'raw', text, contentType })),
  },
  { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
);

const uid = fc.oneof(
  { weight: 6, arbitrary: fc.constant('$uid') },
  { weight: 1, arbitrary: fc.oneof(nasty.filter((s) => s.length > 0).map(percentEncode), fc.stringMatching(/^[A-Za-z0-9_-]{21}$/), fc.constantFrom('%', '%zz', '..', '%2e%2e', 'a'.repeat(300))) },
);

t.test('the sign-in form under arbitrary input', async (t) => {
  const kh = await startTestApp(t, { env: FUZZ_ENV });
  const { username, password } = await createUser(kh.users);
  const { client } = await createClient(kh.clients);

  /** A browser on the sign-in page of a new interaction: its cookies, uid and CSRF token. */
  async function openSignIn() {
    const agent = new Agent();
    const url = new URL(`${kh.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: client.id, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'S256' }).toString();
    const { response } = await agent.follow(url.href, kh.origin);
    const { action, csrf } = loginForm(await response.text());
    return { agent, csrf, uid: /\/interaction\/([^/]+)\/login/.exec(action)![1]! };
  }
  let current = await openSignIn();
  const other = await openSignIn();
  const values = (): Live => ({ $uid: current.uid, $csrf: current.csrf, $username: username, $password: password, $otherCsrf: other.csrf });
  const resolve = (value: string) => {
    const live = values();
    if (value === '$USERNAME') return username.toUpperCase();
    return value.replace(/\$(uid|csrf|username|password|otherCsrf)\b/g, (name) => live[name as keyof Live]);
  };

  const seen = new Map<string, number>();
  const count = (key: string) => seen.set(key, (seen.get(key) ?? 0) + 1);
  const spread = (name: string) => {
    t.ok(seen.has('refused') && seen.has('accepted'), `${name}: refusals and acceptances reached: ${[...seen].sort().map(([k, n]) => `${k}×${n}`).join(' ')}`);
    seen.clear();
  };

  async function submit(path: 'login' | 'abort', input: { uid: string; body: Body; cookies: 'live' | 'none' | 'other'; method: string }) {
    const agent = new Agent();
    const from = input.cookies === 'live' ? current.agent : input.cookies === 'other' ? other.agent : undefined;
    if (from) for (const [k, v] of from.cookies) agent.cookies.set(k, v);
    const headers: Record<string, string> = { accept: BROWSER_ACCEPT };
    let payload: string | undefined;
    if (input.body.kind === 'form') {
      payload = input.body.pairs.map(([k, v]) => `${percentEncode(resolve(k))}=${percentEncode(resolve(v))}`).join('&');
      headers['content-type'] = input.body.contentType;
    } else if (input.body.kind === 'json') {
      payload = JSON.stringify(input.body.value, (_k, v: unknown) => (typeof v === 'string' ? resolve(v) : v)) ?? 'null';
      headers['content-type'] = 'application/json';
    } else if (input.body.kind === 'raw') {
      payload = resolve(input.body.text);
      if (input.body.contentType !== undefined) headers['content-type'] = input.body.contentType;
    }
    const url = `${kh.origin}/interaction/${resolve(input.uid)}/${path}`;
    const response = await agent.fetch(url, { method: input.method, headers, ...(payload !== undefined && input.method !== 'GET' ? { body: payload } : {}) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, request: `${input.method} ${url} ${payload ?? ''}` };
  }

  /**
   * Whether a uid reaches the sign-in routes: Fastify refuses a path it cannot decode, or a parameter
   * over 100 characters, before any route is known (problem+json, as for any path).
   */
  const routable = (id: string) => {
    try {
      return decodeURIComponent(resolve(id)).length <= 100;
    } catch {
      return false;
    }
  };

  /** Every answer: below 500, no internals; a refusal is a readable HTML page. */
  function check(id: string, answer: { status: number; headers: Headers; text: string; request: string }) {
    sane(answer.status, answer.text, answer.request);
    // Node's HTTP parser refuses a request line and headers over 16 KiB before Keyhold sees the request;
    // a path with dot segments may resolve outside the sign-in pages.
    if (answer.status === 431 || !routable(id) || !/\/interaction\/[^/]+\/(login|abort)/.test(new URL(answer.request.split(' ')[1]!).pathname)) return;
    if (answer.status >= 400) {
      expect(/^text\/html/.test(answer.headers.get('content-type') ?? ''), 'a refusal that is not an HTML page', `${answer.headers.get('content-type')}\n${answer.text}`);
      expect(/<html[\s\S]*<h1>[^<]+<\/h1>/.test(answer.text), 'not a readable page', answer.text);
    }
  }

  const input = fc.record({
    uid,
    body,
    cookies: fc.constantFrom<'live' | 'none' | 'other'>('live', 'live', 'live', 'none', 'other'),
    method: fc.constant('POST'),
  });

  for (const path of ['login', 'abort'] as const) {
    await holds(t, `POST /interaction/{uid}/${path}`, path === 'login' ? 250 : 150, input, async (request) => {
      const before = await snapshot(kh.db.pool);
      const answer = await submit(path, request);
      check(request.uid, answer);
      // 303 to the provider: signed in or cancelled, the interaction is finished; start another.
      if (answer.status === 303) {
        count('accepted');
        current = await openSignIn();
      } else {
        count('refused');
        unchanged(before, await snapshot(kh.db.pool), `a refused sign-in form (${answer.status})`);
      }
    });
    spread(`/interaction/{uid}/${path}`);
  }

  await holds(t, 'GET /interaction/{uid}', 100, fc.record({ uid, cookies: fc.constantFrom<'live' | 'none' | 'other'>('live', 'none', 'other') }), async ({ uid: id, cookies }) => {
    const agent = new Agent();
    const from = cookies === 'live' ? current.agent : cookies === 'other' ? other.agent : undefined;
    if (from) for (const [k, v] of from.cookies) agent.cookies.set(k, v);
    const before = await snapshot(kh.db.pool);
    const url = `${kh.origin}/interaction/${resolve(id)}`;
    const response = await agent.fetch(url, { headers: { accept: BROWSER_ACCEPT } });
    const text = await response.text();
    sane(response.status, text, url);
    const reached = /^\/interaction\/[^/]+$/.test(new URL(url).pathname) && routable(id);
    if (response.status >= 400 && response.status !== 431 && reached) expect(/^text\/html/.test(response.headers.get('content-type') ?? ''), 'a refusal that is not an HTML page', text);
    if (response.status >= 400) unchanged(before, await snapshot(kh.db.pool), `a refused sign-in page (${response.status})`);
  });
});

t.test('a username holding U+0000 (which no account can have) is a wrong username, not a 500', async (t) => {
  const kh = await startTestApp(t, { env: FUZZ_ENV });
  const { username, password } = await createUser(kh.users);
  const { client } = await createClient(kh.clients);
  const agent = new Agent();
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: client.id, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'S256' }).toString();
  const { response } = await agent.follow(url.href, kh.origin);
  const { action, csrf } = loginForm(await response.text());
  const submit = (fields: Record<string, string>) =>
    agent.fetch(new URL(action, kh.origin).href, { method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams({ csrf, ...fields }).toString() });
  for (const name of ['\u0000', `${username}\u0000`, 'a\u0000b']) {
    const answer = await postSignIn(agent, new URL(action, kh.origin).href, { csrf, username: name, password });
    t.ok(answer.refused, `${JSON.stringify(name)}: refused`);
    t.match(answer.html, /Incorrect username or password/);
  }
  const real = await submit({ username, password });
  t.equal(real.status, 303, 'the real credentials still sign in');
  t.match(real.headers.get('location'), /\/auth\//);
});

t.test('a body the sign-in form cannot take (another type, too large, malformed) gets a page, not problem+json', async (t) => {
  const kh = await startTestApp(t, { env: FUZZ_ENV });
  const { client } = await createClient(kh.clients);
  const agent = new Agent();
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: client.id, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', code_challenge: pkce().challenge, code_challenge_method: 'S256' }).toString();
  const { response } = await agent.follow(url.href, kh.origin);
  const { action } = loginForm(await response.text());
  const cases: Array<[string, string, string, number]> = [
    ['XML', 'application/xml', '<form/>', 415],
    ['an unknown type', 'application/octet-stream', 'x', 415],
    ['a form over 64 KiB', FORM, `csrf=${'x'.repeat(70 * 1024)}`, 413],
    ['malformed JSON', 'application/json', '{"username":', 400],
  ];
  for (const path of [action, action.replace(/\/login$/, '/abort')]) {
    for (const [what, type, body, status] of cases) {
      const answer = await agent.fetch(new URL(path, kh.origin).href, { method: 'POST', headers: { 'content-type': type, accept: BROWSER_ACCEPT }, body });
      t.equal(answer.status, status, `${path.split('/').pop()}, ${what}: ${status}`);
      t.match(answer.headers.get('content-type'), /^text\/html/);
      t.match(await answer.text(), /<h1>The sign-in form was not accepted<\/h1>/);
    }
  }
});
