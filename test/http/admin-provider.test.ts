import t from 'tap';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';
import { Agent, codeRequest } from '../helpers/flow.ts';

/** Whatever the admin API accepts, the provider accepts too: the client loads and its redirect URLs are honoured. */
t.test('every kind of URL the admin API accepts works at the authorization endpoint', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const long = `https://app.example.com/${'a'.repeat(2000 - 'https://app.example.com/'.length)}`;
  const bodies: Array<Record<string, unknown>> = [
    { type: 'hybrid', redirectUris: ['https://app.example.com/cb', 'https://app.example.com/cb?tenant=1', 'https://app.example.com:8443/cb'], postLogoutRedirectUris: ['https://app.example.com/'] },
    { type: 'hybrid', redirectUris: ['https://localhost/cb', 'https://localhost:8443/cb'], postLogoutRedirectUris: ['https://localhost/'] },
    { type: 'hybrid', redirectUris: ['http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost:4000/callback'], postLogoutRedirectUris: ['http://localhost:4000/'] },
    { type: 'hybrid', redirectUris: ['com.example.app:/callback', 'com.example.app://callback', 'https://app.example.com/cb'], postLogoutRedirectUris: ['com.example.app:/signed-out'] },
    { type: 'hybrid', redirectUris: [long] },
    { type: 'authorization-code', redirectUris: ['https://spa.example.com/cb', 'https://localhost/cb'], allowedCorsOrigins: ['https://spa.example.com', 'http://localhost:3000'] },
    { type: 'authorization-code', redirectUris: ['http://127.0.0.1:5173/cb', 'org.example.spa:/cb'] },
  ];
  for (const body of bodies) {
    const created = await api('POST', '/clients', { name: 'App', ...body });
    t.equal(created.status, 201, `accepted: ${JSON.stringify(body).slice(0, 120)}`);
    const id = created.body.client.id as string;
    t.ok(await kh.provider.Client.find(id), 'the provider loads the client');
    for (const redirectUri of body.redirectUris as string[]) {
      const url = new URL(`${kh.issuer}/auth`);
      url.search = new URLSearchParams(codeRequest(id, redirectUri)).toString();
      const answer = await new Agent().follow(url.href, kh.origin);
      t.match(answer.url, /\/interaction\/[\w-]+$/, `the provider takes ${redirectUri.slice(0, 60)} and shows the sign-in page`);
    }
  }

  const machine = await api('POST', '/clients', { type: 'client-credentials', name: 'Machine' });
  t.ok(await kh.provider.Client.find(machine.body.client.id), 'a client-credentials client loads too');
});
