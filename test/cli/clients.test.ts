import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { apiFor, clientCredentials } from '../helpers/admin.ts';
import { startTestApp } from '../helpers/app.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { post } from '../helpers/flow.ts';
import { verifySecret } from '../../src/passwords.ts';

const root = join(import.meta.dirname, '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a real process on `databaseUrl`, as `npm run keyhold -- ...` would. */
function cli(databaseUrl: string, args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(node, [join(root, 'src', 'cli.ts'), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(stdin ?? '');
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('bootstrap: the CLI makes an automation client whose token creates a hybrid client through the API', async (t) => {
  const db = await createTestDatabase(t);
  const made = await cli(db.url, ['clients', 'create', '--type', 'client-credentials', '--name', 'Automation', '--role', 'admin', '--json']);
  t.equal(made.code, 0, `exit 0 ${made.stderr}`);
  const { client, secret } = JSON.parse(made.stdout);
  t.same(Object.keys(JSON.parse(made.stdout)), ['client', 'secret'], 'prints { client, secret } as POST /api/v1/clients answers');
  t.same(Object.keys(client), ['id', 'type', 'name', 'enabled', 'accessTokenLifetime', 'roles', 'secrets', 'createdAt', 'updatedAt', 'version']);
  t.match(client, { type: 'client-credentials', name: 'Automation', roles: ['admin'], enabled: true, accessTokenLifetime: 3600 });
  t.match(secret, { id: client.secrets[0].id, value: String, lastUsedAt: null });

  const kh = await startTestApp(t, { db });
  const token = await clientCredentials(kh, client.id, secret.value, 'admin');
  t.equal(token.status, 200, 'its secret gets a token with scope admin');
  t.equal(token.body.scope, 'admin');
  const api = apiFor(kh, token.body.access_token as string);
  const hybrid = await api('POST', '/clients', { type: 'hybrid', name: 'Web app', redirectUris: ['https://app.example.com/cb'] });
  t.equal(hybrid.status, 201, 'that token creates a hybrid client through the admin API');
  t.same(Object.keys(hybrid.body.client), ['id', 'type', 'name', 'enabled', 'redirectUris', 'postLogoutRedirectUris', 'allowRefreshToken', 'accessTokenLifetime', 'secrets', 'createdAt', 'updatedAt', 'version']);

  const listed = await cli(db.url, ['clients', 'list', '--json']);
  t.equal(listed.code, 0);
  const page = JSON.parse(listed.stdout);
  t.same(page.items.map((c: { id: string }) => c.id), [client.id, hybrid.body.client.id], 'clients list --json: the API’s { items, nextCursor }');
  t.equal(page.nextCursor, null);
  t.same(page.items[1], (await api('GET', `/clients/${hybrid.body.client.id}`)).body, 'the same client as the API shows');
  t.notMatch(listed.stdout, secret.value, 'list never shows a secret');
  t.notMatch(listed.stdout, hybrid.body.secret.value);

  const typed = await cli(db.url, ['clients', 'list', '--type', 'hybrid']);
  t.equal(typed.code, 0);
  t.match(typed.stdout, hybrid.body.client.id);
  t.match(typed.stdout, 'Web app');
  t.notMatch(typed.stdout, client.id, 'filtered by type');

  const removed = await cli(db.url, ['clients', 'delete', hybrid.body.client.id]);
  t.equal(removed.code, 0, removed.stderr);
  t.match(removed.stdout, `deleted client ${hybrid.body.client.id}`);
  t.equal((await api('GET', `/clients/${hybrid.body.client.id}`)).status, 404, 'gone for the API at once');
  const again = await cli(db.url, ['clients', 'delete', hybrid.body.client.id]);
  t.equal(again.code, 1, 'deleting it again fails');
  t.match(again.stderr, /^keyhold clients delete: there is no client with id "[0-9a-f-]+"\n$/, 'with one clear line');
});

t.test('clients create, human output: the id and, once, the secret', async (t) => {
  const db = await createTestDatabase(t);
  const made = await cli(db.url, [
    'clients', 'create', '--type', 'hybrid', '--name', 'Example app',
    '--redirect-uri', 'http://localhost:4000/callback', '--redirect-uri', 'com.example.app:/callback',
    '--post-logout-redirect-uri', 'http://localhost:4000/',
    '--allow-refresh-token', '--access-token-lifetime', '300',
    '--secret-description', 'laptop', '--secret-never-expires',
  ]);
  t.equal(made.code, 0, made.stderr);
  const id = /client id:\s+(\S+)/.exec(made.stdout)?.[1];
  const value = /client secret:\s+(\S+)/.exec(made.stdout)?.[1];
  t.ok(id && value, 'prints the client id and the secret');
  t.match(made.stdout, /shown this once/);
  t.match(made.stdout, /never expires/);
  const kh = await startTestApp(t, { db });
  const stored = await kh.clients.findById(id!);
  t.match(stored, {
    type: 'hybrid',
    name: 'Example app',
    redirectUris: ['http://localhost:4000/callback', 'com.example.app:/callback'],
    postLogoutRedirectUris: ['http://localhost:4000/'],
    allowRefreshToken: true,
    accessTokenLifetime: 300,
  });
  const secrets = await kh.clients.listSecrets(id!);
  t.match(secrets, [{ description: 'laptop', expiresAt: null }]);
  const introspection = await post(`${kh.issuer}/token/introspection`, { token: 'x' }, { clientId: id!, secret: value! });
  t.equal(introspection.status, 200, 'the printed secret authenticates the client');
});

t.test('CLI errors: non-zero exit and one clear line; nothing is created', async (t) => {
  const db = await createTestDatabase(t);
  const cases: Array<[string, string[], RegExp]> = [
    ['no type', ['clients', 'create', '--name', 'x'], /--type is required/],
    ['unknown type', ['clients', 'create', '--type', 'implicit', '--name', 'x'], /--type: must be one of hybrid, authorization-code, client-credentials/],
    ['bad redirect URL', ['clients', 'create', '--type', 'hybrid', '--name', 'x', '--redirect-uri', 'http://app.example.com/cb'], /--redirect-uri: "http:\/\/app\.example\.com\/cb" uses plain http/],
    ['no redirect URL', ['clients', 'create', '--type', 'hybrid', '--name', 'x'], /--redirect-uri: /],
    ['lifetime 60.5', ['clients', 'create', '--type', 'client-credentials', '--name', 'x', '--access-token-lifetime', '60.5'], /--access-token-lifetime must be a whole number/],
    ['lifetime 3601', ['clients', 'create', '--type', 'client-credentials', '--name', 'x', '--access-token-lifetime', '3601'], /--access-token-lifetime: must be a whole number of seconds from 60 to 3600/],
    ['expiry and never', ['clients', 'create', '--type', 'client-credentials', '--name', 'x', '--secret-expires-at', '2999-01-01T00:00:00Z', '--secret-never-expires'], /--secret-never-expires: give either/],
    ['past expiry', ['clients', 'create', '--type', 'client-credentials', '--name', 'x', '--secret-expires-at', '2001-01-01T00:00:00Z'], /--secret-expires-at: must be in the future/],
    ['redirect URL on client-credentials', ['clients', 'create', '--type', 'client-credentials', '--name', 'x', '--redirect-uri', 'https://a.example.com/'], /--redirect-uri: does not apply to client-credentials clients/],
    ['unknown flag', ['clients', 'create', '--type', 'hybrid', '--name', 'x', '--colour', 'blue'], /Unknown option '--colour'/],
    ['bad list type', ['clients', 'list', '--type', 'oauth'], /--type: must be one of/],
    ['delete without id', ['clients', 'delete'], /give exactly one client id/],
  ];
  const runs = await Promise.all(cases.map(([, args]) => cli(db.url, args)));
  cases.forEach(([what, , message], i) => {
    const run = runs[i]!;
    t.not(run.code, 0, `${what}: non-zero exit`);
    t.match(run.stderr, message, `${what}: says why`);
    t.equal(run.stderr.trim().split('\n').length, 1, `${what}: one line (${run.stderr.trim()})`);
    t.equal(run.stdout, '', `${what}: nothing on standard output`);
  });
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM clients');
  t.equal(rows[0].n, 0, 'no client was created');
});

t.test('users create prints what POST /api/v1/users answers', async (t) => {
  const db = await createTestDatabase(t);
  const password = 'a long passphrase for alice';
  const made = await cli(db.url, ['users', 'create', '--username', 'alice', '--email', 'alice@example.com', '--name', 'Alice', '--admin', '--password-stdin', '--json'], `${password}\n`);
  t.equal(made.code, 0, made.stderr);
  const user = JSON.parse(made.stdout);
  t.same(Object.keys(user), ['id', 'username', 'email', 'name', 'roles', 'disabled', 'lockedUntil', 'createdAt', 'version']);
  t.match(user, { username: 'alice', email: 'alice@example.com', name: 'Alice', roles: ['admin'], disabled: false });
  t.notMatch(made.stdout + made.stderr, password);
  const taken = await cli(db.url, ['users', 'create', '--username', 'ALICE']);
  t.equal(taken.code, 1);
  t.match(taken.stderr, /already taken/);
  const short = await cli(db.url, ['users', 'create', '--username', 'bob', '--password-stdin'], 'short\n');
  t.equal(short.code, 1);
  t.match(short.stderr, /the password: must be at least 8 characters/);
  // A password piped in NFD (as some systems compose accents) is hashed in NFC, as the sign-in form checks it.
  const nfd = 'cre\u0300me bru\u0302le\u0301e';
  const carol = await cli(db.url, ['users', 'create', '--username', 'carol', '--password-stdin'], `${nfd}\n`);
  t.equal(carol.code, 0, carol.stderr);
  const { rows } = await db.pool.query<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'carol'");
  t.ok(await verifySecret(rows[0]!.password_hash, nfd.normalize('NFC')), 'the CLI hashes the NFC form');
});
