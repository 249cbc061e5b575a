import t from 'tap';
import { startTestApp } from '../helpers/app.ts';
import { basicAuth, createClient } from '../helpers/fixtures.ts';

t.test('client-based CORS at the token endpoint', async (t) => {
  const kh = await startTestApp(t);
  const { client, secret } = await createClient(kh.clients, { type: 'client-credentials', name: 'machine', redirectUris: [], postLogoutRedirectUris: [] });
  const token = (origin?: string) =>
    fetch(`${kh.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: basicAuth(client.id, secret),
        'content-type': 'application/x-www-form-urlencoded',
        ...(origin ? { origin } : {}),
      },
      body: 'grant_type=client_credentials',
    });

  t.equal((await token()).status, 200, 'a back end sends no Origin');
  const same = await token(kh.origin);
  t.equal(same.status, 200, "Keyhold's own pages (same origin) are allowed");
  const foreign = await token('https://evil.example.com');
  t.equal(foreign.status, 400, 'an origin the client does not list is refused');
  t.equal(foreign.headers.get('access-control-allow-origin'), null);
});
