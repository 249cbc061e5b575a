import t from 'tap';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';

/** `q` on the client and user lists: a literal, case-insensitive search that keeps the lists' order and pages. */

t.test('clients: by name (any case), by the start of the id, with type and pages', async (t) => {
  const kh = await startTestApp(t);
  const { api, clientId: automation } = await adminToken(kh);
  const make = async (type: string, name: string) => {
    const body = type === 'client-credentials' ? { type, name } : { type, name, redirectUris: ['https://app.example.com/cb'] };
    const answer = await api('POST', '/clients', body);
    t.equal(answer.status, 201, `${name} created`);
    return answer.body.client as { id: string; name: string };
  };
  const billing = await make('hybrid', 'Billing portal');
  const reports = await make('client-credentials', 'Nightly BILLING reports');
  await make('authorization-code', 'Shop');
  const percent = await make('hybrid', '100% uptime');
  const underscore = await make('hybrid', 'snake_case');
  await make('hybrid', 'snakeXcase');
  const backslash = await make('hybrid', 'back\\slash');
  const names = async (query: string) => {
    const answer = await api('GET', `/clients?${query}`);
    t.equal(answer.status, 200, `?${query}: 200`);
    return answer.body.items.map((c: { name: string }) => c.name);
  };

  t.same(await names('q=billing'), [billing.name, reports.name], 'a part of the name, whatever its case, oldest first');
  t.same(await names('q=bILLing&type=client-credentials'), [reports.name], 'with type');
  t.same(await names(`q=${billing.id.slice(0, 8)}`), [billing.name], 'the start of an id');
  t.same(await names(`q=${billing.id.toUpperCase()}`), [billing.name], 'a whole id, whatever its case');
  t.notOk((await names(`q=${automation.slice(4, 12)}`)).includes('Automation'), 'the middle of an id does not match');
  t.same(await names('q=%25'), [percent.name], '% matches itself only');
  t.same(await names('q=_'), [underscore.name], '_ matches itself only');
  t.same(await names('q=e_c'), [underscore.name], 'not snakeXcase');
  t.same(await names(`q=${encodeURIComponent('\\')}`), [backslash.name], '\\ matches itself only');
  t.same(await names('q=nothing-like-it'), []);

  const first = await api('GET', '/clients?q=a&limit=2');
  const everything = await names('q=a&limit=100');
  t.equal(first.body.items.length, 2);
  t.not(first.body.nextCursor, null, 'another page follows');
  const rest = await api('GET', `/clients?q=a&limit=100&cursor=${first.body.nextCursor}`);
  t.same([...first.body.items, ...rest.body.items].map((c: { name: string }) => c.name), everything, 'pages of a search are the search, in order');

  for (const bad of ['q=', `q=${'x'.repeat(101)}`, 'q=%00', 'q=a%07b']) {
    const answer = await api('GET', `/clients?${bad}`);
    t.equal(answer.status, 400, `?${bad.slice(0, 20)}: 400`);
    t.match(answer.body.errors, [{ path: 'q', code: String }]);
  }
  t.equal((await api('GET', `/clients?q=${'x'.repeat(100)}`)).status, 200, '100 characters');
});

t.test('users: by username, email or name, whatever the case', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (const user of [
    { username: 'alice', email: 'alice@example.com', name: 'Alice Liddell' },
    { username: 'bob', email: 'bob@wonder.example', name: null },
    { username: 'carol_x', email: null, name: 'Carol' },
    { username: 'carolyx', email: null, name: null },
  ]) t.equal((await api('POST', '/users', user)).status, 201);
  const usernames = async (q: string) => (await api('GET', `/users?q=${encodeURIComponent(q)}`)).body.items.map((u: { username: string }) => u.username);
  t.same(await usernames('ALICE'), ['alice'], 'username or email or name');
  t.same(await usernames('wonder'), ['bob'], 'the email');
  t.same(await usernames('liddell'), ['alice'], 'the name');
  t.same(await usernames('carol'), ['carol_x', 'carolyx']);
  t.same(await usernames('l_x'), ['carol_x'], '_ matches itself only');
  const page = await api('GET', '/users?q=carol&limit=1');
  t.same(page.body.items.map((u: { username: string }) => u.username), ['carol_x']);
  t.same((await api('GET', `/users?q=carol&limit=1&cursor=${page.body.nextCursor}`)).body.items.map((u: { username: string }) => u.username), ['carolyx'], 'the next page');
  t.equal((await api('GET', '/users?q=')).status, 400);
});
