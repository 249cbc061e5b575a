import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { Agent, loginForm } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { pkce } from '../helpers/flow.ts';

const REDIRECT = 'https://app.example.com/callback';
const FORM = 'application/x-www-form-urlencoded';

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
