import t from 'tap';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';

t.test('a list cursor is one the server could have given out, or a 400', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  const cursor = (date: string, id: string) => Buffer.from(JSON.stringify([date, id])).toString('base64url');
  const id = '5f0c7d9e-3b1a-4c2d-8e4f-1a2b3c4d5e6f';
  const refused: Array<[string, string]> = [
    ['a date after the last one JavaScript holds, beyond Postgres', cursor('+275760-09-13T00:00:00.000Z', id)],
    ['a date before the first one JavaScript holds, beyond Postgres', cursor('-271821-04-20T00:00:00.000Z', id)],
    ['a date Postgres holds in a form the server never writes', cursor('2024-01-01', id)],
    ['a date that does not exist', cursor('2024-02-30T00:00:00.000Z', id)],
    ['36 dashes for an id', cursor('2024-01-01T00:00:00.000Z', '-'.repeat(36))],
    ['an id of the right characters but not a UUID', cursor('2024-01-01T00:00:00.000Z', '0123456789abcdef0123456789abcdef----')],
  ];
  for (const [what, value] of refused) {
    for (const path of ['/clients', '/users']) {
      const answer = await api('GET', `${path}?cursor=${value}`);
      t.equal(answer.status, 400, `${path}, ${what}: 400`);
      t.match(answer.body, { status: 400, errors: [{ path: 'cursor', message: /not a cursor this server gave out/ }] });
    }
  }
  // Dates at either end of what the server could write still page.
  for (const date of ['0001-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
    const answer = await api('GET', `/clients?cursor=${cursor(date, id)}`);
    t.equal(answer.status, 200, `a cursor at ${date}: 200`);
  }
});

t.test('names are stored as sent or refused: no lone surrogates', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (const name of ['a\ud800b', '\udfff', 'x\udc00']) {
    const client = await api('POST', '/clients', { type: 'client-credentials', name });
    t.equal(client.status, 400, `client name ${JSON.stringify(name)}: 400`);
    t.match(client.body.errors, [{ path: 'name', message: /Unicode/ }]);
    const user = await api('POST', '/users', { username: 'lone-surrogate', name });
    t.equal(user.status, 400, `user name ${JSON.stringify(name)}: 400`);
    const secret = await api('POST', '/clients', { type: 'client-credentials', name: 'M', secret: { description: name } });
    t.equal(secret.status, 400, `secret description ${JSON.stringify(name)}: 400`);
  }
  const emoji = await api('POST', '/clients', { type: 'client-credentials', name: 'Rocket 🚀 café' });
  t.equal(emoji.status, 201);
  t.equal(emoji.body.client.name, 'Rocket 🚀 café', 'well-formed Unicode is kept as sent');
});

t.test('a path Fastify cannot decode, or a parameter over its length limit, is answered as problem+json', async (t) => {
  const kh = await startTestApp(t);
  const { api } = await adminToken(kh);
  for (const path of ['/clients/%', '/users/%zz', '/clients/%E0%A4%A/secrets']) {
    const answer = await api('GET', path);
    t.equal(answer.status, 400, `${path}: 400`);
    t.match(answer.headers.get('content-type'), /^application\/problem\+json/);
    t.match(answer.body, { status: 400, title: String, detail: String, type: String });
  }
  const long = await api('GET', `/clients/${'a'.repeat(500)}`);
  t.equal(long.status, 414);
  t.match(long.headers.get('content-type'), /^application\/problem\+json/);
  t.match(long.body, { status: 414, detail: String });
});
