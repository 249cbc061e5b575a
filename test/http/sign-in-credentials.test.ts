import t from 'tap';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { Agent, loginForm, postSignIn } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { codeRequest } from '../helpers/flow.ts';
import { digest } from '../../src/crypto/digest.ts';
import { hashSecret, verifySecret } from '../../src/passwords.ts';

/** A username and a password mean the same thing however they are typed: spaces, case, Unicode forms. */

const REDIRECT = 'https://app.example.com/callback';
// "café crème", its accented letters as one code point each (NFC) and as a letter and a combining accent (NFD).
const NFC = 'caf\u00e9 cr\u00e8me 42';
const NFD = 'cafe\u0301 cre\u0300me 42';

/** One sign-in through the login form on a fresh sign-in page: signed in, or refused (sent back to the sign-in page). */
async function signIn(kh: TestApp, clientId: string, username: string, password: string) {
  const agent = new Agent();
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams(codeRequest(clientId, REDIRECT)).toString();
  const { response } = await agent.follow(url.href, kh.origin);
  const form = loginForm(await response.text());
  const r = await postSignIn(agent, new URL(form.action, kh.origin).href, { username, password, csrf: form.csrf });
  return { outcome: r.refused ? 'refused' : r.status === 303 ? 'signed in' : `status ${r.status}`, html: r.html };
}

const storedHash = async (kh: TestApp, id: string) =>
  (await kh.db.pool.query<{ password_hash: string; version: string }>('SELECT password_hash, version FROM users WHERE id = $1', [id])).rows[0]!;

t.test('the forms are distinct strings', async (t) => {
  t.not(NFC, NFD);
  t.equal(NFD.normalize('NFC'), NFC);
});

t.test('usernames: trimmed, whatever their case', async (t) => {
  const kh = await startTestApp(t, { env: { LOCKOUT_THRESHOLD: '3', RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { client } = await createClient(kh.clients);
  const { api } = await adminToken(kh);
  const created = await api('POST', '/users', { username: 'alice', password: 'a long passphrase' });
  t.equal(created.status, 201);

  for (const typed of [' alice ', 'ALICE', '\talice\n', 'alice']) {
    t.equal((await signIn(kh, client.id, typed, 'a long passphrase')).outcome, 'signed in', `${JSON.stringify(typed)} signs in as alice`);
  }
  t.equal((await signIn(kh, client.id, 'al ice', 'a long passphrase')).outcome, 'refused', 'spaces inside a name are kept');

  const dup = await api('POST', '/users', { username: 'Alice', password: 'another passphrase' });
  t.equal(dup.status, 409, 'Alice beside alice is a conflict');
  t.match(dup.body, { status: 409, detail: /already taken/ });
  t.equal((await api('POST', '/users', { username: ' bob', password: 'a long passphrase' })).status, 400, 'the admin API takes names as its rule says: no spaces');

  // Three failures lock: typed three ways, they are one name's.
  await signIn(kh, client.id, ' Alice ', 'wrong password');
  await signIn(kh, client.id, 'alice', 'wrong password');
  const third = await signIn(kh, client.id, 'ALICE ', 'wrong password');
  t.match(third.html, /Too many failed attempts/, '" Alice ", "alice" and "ALICE " count as one name');
  const { rows } = await kh.db.pool.query<{ failures: number }>('SELECT failures FROM signin_failures WHERE username_digest = $1', [digest('alice')]);
  t.same(rows, [{ failures: 3 }], 'in one row, under the digest of the lower-cased name');
  const user = (await api('GET', `/users/${created.body.id}`)).body;
  t.ok(user.lockedUntil, 'and the admin API shows alice locked');
});

t.test('passwords: compared in Unicode NFC', async (t) => {
  const kh = await startTestApp(t, { env: { RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { client } = await createClient(kh.clients);
  const { api } = await adminToken(kh);

  const composed = await api('POST', '/users', { username: 'composed', password: NFC });
  const decomposed = await api('POST', '/users', { username: 'decomposed', password: NFD });
  t.equal(composed.status, 201);
  t.equal(decomposed.status, 201);
  for (const [name, id] of [['composed', composed.body.id], ['decomposed', decomposed.body.id]] as const) {
    t.equal((await signIn(kh, client.id, name, NFD)).outcome, 'signed in', `${name}: signs in typed in NFD`);
    t.equal((await signIn(kh, client.id, name, NFC)).outcome, 'signed in', `${name}: signs in typed in NFC`);
    t.ok(await verifySecret((await storedHash(kh, id)).password_hash, NFC), `${name}: the hash is of the NFC form`);
  }
  t.equal((await signIn(kh, client.id, 'composed', ` ${NFC}`)).outcome, 'refused', 'passwords are not trimmed');

  const reset = await api('PATCH', `/users/${composed.body.id}`, { password: `${NFD}!` });
  t.equal(reset.status, 200);
  t.equal((await signIn(kh, client.id, 'composed', `${NFC}!`)).outcome, 'signed in', 'a password set again is normalised too');
});

t.test('a hash made from a password as typed, before passwords were normalised', async (t) => {
  const kh = await startTestApp(t, { env: { RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { client } = await createClient(kh.clients);
  const { user, username } = await createUser(kh.users);
  const legacy = await hashSecret(NFD);
  await kh.db.pool.query('UPDATE users SET password_hash = $2 WHERE id = $1', [user.id, legacy]);
  const before = await storedHash(kh, user.id);

  // The known limit: typed in NFC, the NFC form fails and there is no other form to try.
  t.equal((await signIn(kh, client.id, username, NFC)).outcome, 'refused', 'until its first sign-in, the NFC form does not match an NFD hash');
  t.equal((await storedHash(kh, user.id)).password_hash, legacy, 'and a failure changes nothing');
  t.equal((await signIn(kh, client.id, username, 'wrong')).outcome, 'refused');

  t.equal((await signIn(kh, client.id, username, NFD)).outcome, 'signed in', 'the form it was made from signs in');
  const after = await storedHash(kh, user.id);
  t.not(after.password_hash, legacy, 'and the hash is replaced');
  t.ok(await verifySecret(after.password_hash, NFC), 'by one of the NFC form');
  t.notOk(await verifySecret(after.password_hash, NFD));
  t.equal(after.version, before.version, 'the user is unchanged (no new version)');

  t.equal((await signIn(kh, client.id, username, NFC)).outcome, 'signed in', 'from then on the NFC form signs in');
  t.equal((await signIn(kh, client.id, username, NFD)).outcome, 'signed in', 'and the NFD form too, the normal way');
  t.equal((await storedHash(kh, user.id)).password_hash, after.password_hash, 'with no further rehash');
});
