import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { Agent, loginForm } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { pkce } from '../helpers/flow.ts';

const REDIRECT = 'https://app.example.com/callback';
const FORM = 'application/x-www-form-urlencoded';
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

t.test('a username holding U+0000 (which no account can have) is a wrong username, not a 500', async (t) => {
  const kh = await startTestApp(t);
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
    const answer = await submit({ username: name, password });
    t.equal(answer.status, 401, `${JSON.stringify(name)}: 401`);
    t.match(await answer.text(), /Incorrect username or password/);
  }
  t.equal((await submit({ username, password })).status, 303, 'the real credentials still sign in');
});

t.test('a body the sign-in form cannot take (another type, too large, malformed) gets a page, not problem+json', async (t) => {
  const kh = await startTestApp(t);
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
