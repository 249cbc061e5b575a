import t from 'tap';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { adminToken } from '../helpers/admin.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { post, signInForTokens } from '../helpers/flow.ts';

/** Who may learn what about a token: its own client, or a resource server; nobody else. */

const userTokens = (kh: TestApp, client: { id: string; secret: string }, creds: { username: string; password: string }) =>
  signInForTokens(kh, client, creds, 'openid offline_access');

const cc = (name: string, roles: string[] = []) => ({ type: 'client-credentials' as const, name, roles, redirectUris: [], postLogoutRedirectUris: [] });

t.test('introspection answers for the caller\'s own tokens, or for a resource server', async (t) => {
  const kh = await startTestApp(t);
  const creds = await createUser(kh.users);
  const app = await createClient(kh.clients, { name: 'Web app', allowRefreshToken: true });
  const otherApp = await createClient(kh.clients, { name: 'Another web app' });
  const job = await createClient(kh.clients, cc('Batch job'));
  const resourceServer = await createClient(kh.clients, cc('Orders API', ['resource-server']));
  const { accessToken, refreshToken } = await userTokens(kh, { id: app.client.id, secret: app.secret }, creds);
  const jobToken = await post(`${kh.issuer}/token`, { grant_type: 'client_credentials' }, { clientId: job.client.id, secret: job.secret });
  const machineToken = String(jobToken.body.access_token);

  const introspect = (token: string, who: { client: { id: string }; secret: string }) =>
    post(`${kh.issuer}/token/introspection`, { token }, { clientId: who.client.id, secret: who.secret });

  const own = await introspect(accessToken, app);
  t.match(own.body, { active: true, client_id: app.client.id, sub: creds.user.id }, 'a client learns about its own access token');
  t.equal((await introspect(refreshToken, app)).body.active, true, 'and its own refresh token');
  t.equal((await introspect(machineToken, job)).body.active, true, 'a client-credentials client about its own token');

  for (const [label, who] of [['another hybrid client', otherApp], ['a client-credentials client without the role', job]] as const) {
    const answer = await introspect(accessToken, who);
    t.equal(answer.status, 200);
    t.same(answer.body, { active: false }, `${label} learns nothing about someone else's token: not its subject, not its scope`);
  }
  t.same((await introspect(machineToken, otherApp)).body, { active: false });

  const rs = await introspect(accessToken, resourceServer);
  t.match(rs.body, { active: true, client_id: app.client.id, sub: creds.user.id, scope: 'openid offline_access' }, 'a resource server learns about any token');
  t.equal((await introspect(machineToken, resourceServer)).body.active, true);
});

t.test('the resource-server role is given through the admin API, and takes effect at once', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const creds = await createUser(kh.users);
  const app = await createClient(kh.clients, { name: 'Web app' });
  const { accessToken } = await userTokens(kh, { id: app.client.id, secret: app.secret }, creds);

  const created = await api('POST', '/clients', { type: 'client-credentials', name: 'Orders API', roles: ['resource-server'] });
  t.equal(created.status, 201);
  t.same(created.body.client.roles, ['resource-server']);
  const rs = { client: { id: created.body.client.id as string }, secret: created.body.secret.value as string };
  const introspect = () => post(`${kh.issuer}/token/introspection`, { token: accessToken }, { clientId: rs.client.id, secret: rs.secret });
  t.equal((await introspect()).body.active, true);

  const demoted = await api('PATCH', `/clients/${rs.client.id}`, { roles: [] });
  t.equal(demoted.status, 200);
  t.same((await introspect()).body, { active: false }, 'without the role, the next request learns nothing');

  const wrongType = await api('PATCH', `/clients/${app.client.id}`, { roles: ['resource-server'] });
  t.equal(wrongType.status, 400, 'only client-credentials clients hold roles');
  const unknown = await api('POST', '/clients', { type: 'client-credentials', name: 'X', roles: ['superuser'] });
  t.equal(unknown.status, 400);
  t.match(unknown.body.errors[0].message, /"admin", "resource-server"/);
});
