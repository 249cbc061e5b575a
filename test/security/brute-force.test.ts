import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { adminToken } from '../helpers/admin.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { Agent, loginForm, postSignIn } from '../helpers/browserless.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { codeRequest } from '../helpers/flow.ts';

/** Guessing passwords at the sign-in form: per-name lockout and the per-address limit. */

const REDIRECT = 'https://app.example.com/callback';

async function openSignIn(kh: TestApp, clientId: string, headers: Record<string, string> = {}) {
  const agent = new Agent();
  const url = new URL(`${kh.issuer}/auth`);
  url.search = new URLSearchParams(codeRequest(clientId, REDIRECT)).toString();
  const { response } = await agent.follow(url.href, kh.origin, { headers });
  const html = await response.text();
  const form = loginForm(html);
  return { agent, action: new URL(form.action, kh.origin).href, csrf: form.csrf };
}

/** One sign-in attempt on a fresh sign-in page: what it led to, and how long the post took. */
async function attempt(kh: TestApp, clientId: string, username: string, password: string, headers: Record<string, string> = {}) {
  const page = await openSignIn(kh, clientId, headers);
  const started = performance.now();
  const result = await postSignIn(page.agent, page.action, { username, password, csrf: page.csrf }, headers);
  return { ...result, ms: performance.now() - started };
}

/** Signed in: sent on to the authorization endpoint, not back to the sign-in page. */
const signedIn = (r: { status: number; refused: boolean }) => r.status === 303 && !r.refused;
const errorText = (html: string) => /<p class="error"[^>]*>(.*?)<\/p>/s.exec(html)?.[1];
const LOCK_HINT = /Too many failed attempts/;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

t.test('an account locks after consecutive failures, and unlocks by itself', async (t) => {
  const kh = await startTestApp(t, { env: { LOCKOUT_THRESHOLD: '3', LOCKOUT_SECONDS: '2', LOCKOUT_MAX_SECONDS: '3', RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { client } = await createClient(kh.clients);
  const { username, password } = await createUser(kh.users);

  for (let i = 1; i <= 2; i++) {
    const r = await attempt(kh, client.id, username, 'wrong-password');
    t.ok(r.refused, `failure ${i}: refused`);
    t.notMatch(r.html, LOCK_HINT, `failure ${i}: no lock yet`);
  }
  const third = await attempt(kh, client.id, username, 'wrong-password');
  t.ok(third.refused);
  t.match(third.html, LOCK_HINT, 'the failure that reaches the threshold locks, and says to try later');

  const right = await attempt(kh, client.id, username, password);
  t.ok(right.refused, 'while locked, even the right password is refused');
  t.equal(errorText(right.html)?.replace(/ Too many failed attempts.*/, ''), 'Incorrect username or password.', 'with the same message as a wrong password');
  t.match(right.html, LOCK_HINT);
  const { rows: [during] } = await kh.db.pool.query('SELECT failures FROM signin_failures');
  t.equal(during.failures, 3, 'attempts while locked change nothing');

  await sleep(2100);
  const again = await attempt(kh, client.id, username, 'wrong-password');
  t.match(again.html, LOCK_HINT, 'a failure after the lock ended locks again at once');
  const { rows: [doubled] } = await kh.db.pool.query<{ seconds: number }>('SELECT extract(epoch FROM locked_until - last_failure_at)::float8 AS seconds FROM signin_failures');
  t.ok(doubled!.seconds > 2.9 && doubled!.seconds <= 3.01, `the next lock is doubled, up to the cap (${doubled!.seconds} s)`);

  await sleep(3100);
  const unlockedByTime = await attempt(kh, client.id, username, password);
  t.ok(signedIn(unlockedByTime), 'once the lock ends, the right password signs in');
  const { rowCount } = await kh.db.pool.query('SELECT 1 FROM signin_failures');
  t.equal(rowCount, 0, 'and a success resets the count');

  const after = await attempt(kh, client.id, username, 'wrong-password');
  t.notMatch(after.html, LOCK_HINT, 'the count starts again from zero');
});

t.test('a locked account and a wrong password look the same: page, status and time', async (t) => {
  const kh = await startTestApp(t, { env: { LOCKOUT_THRESHOLD: '2', LOCKOUT_SECONDS: '600', RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { client } = await createClient(kh.clients);
  const locked = await createUser(kh.users, { username: 'locked-user' });
  const open = await createUser(kh.users, { username: 'open-user' });
  for (let i = 0; i < 2; i++) await attempt(kh, client.id, locked.username, 'wrong-password');

  const lockedTries: number[] = [];
  const wrongTries: number[] = [];
  let lockedPage = '';
  let wrongPage = '';
  for (let i = 0; i < 7; i++) {
    const l = await attempt(kh, client.id, locked.username, 'wrong-password');
    const w = await attempt(kh, client.id, open.username, 'wrong-password');
    // Reset the open account so that it never locks during the comparison.
    await kh.db.pool.query('DELETE FROM signin_failures WHERE failures < 2');
    t.ok(l.refused);
    t.ok(w.refused);
    lockedTries.push(l.ms);
    wrongTries.push(w.ms);
    lockedPage = l.html;
    wrongPage = w.html;
  }
  const strip = (html: string) => html.replace(/name="csrf" value="[^"]+"/g, '').replace(/\/interaction\/[^/"]+\//g, '/interaction/UID/').replace(/value="[a-z-]+-user"/, '');
  t.equal(strip(lockedPage).replace(/ Too many failed attempts[^<]*/, ''), strip(wrongPage), 'the same page, apart from the hint');
  // The locked path does the same work (an argon2id verification against a dummy hash); without it, it
  // would answer in a fraction of the time. The bound is loose: it tells "same work" from "no work".
  const [l, w] = [median(lockedTries), median(wrongTries)];
  t.ok(l > w * 0.6 && l < w * 1.6, `median time locked ${l.toFixed(1)} ms vs wrong password ${w.toFixed(1)} ms`);
});

t.test('names that do not exist lock like real ones, so a lock tells nothing', async (t) => {
  const kh = await startTestApp(t, { env: { LOCKOUT_THRESHOLD: '2', RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { client } = await createClient(kh.clients);
  await attempt(kh, client.id, 'Nobody-At-All', 'wrong-password');
  const second = await attempt(kh, client.id, 'nobody-at-all', 'wrong-password');
  t.match(second.html, LOCK_HINT, 'the count is per name whatever its case');
  const { rows } = await kh.db.pool.query<{ username_digest: string }>('SELECT username_digest FROM signin_failures');
  t.equal(rows.length, 1);
  t.notMatch(rows[0]!.username_digest, /nobody/i, 'what people typed as a name is not stored as it is');
});

t.test('sign-in posts beyond the per-address limit answer 429 with Retry-After, before any password check', async (t) => {
  const kh = await startTestApp(t, { env: { RATE_LIMIT_SIGNIN_PER_MINUTE: '4', TRUST_PROXY: 'true' } });
  const { client } = await createClient(kh.clients);
  const { username, password } = await createUser(kh.users);
  const from = (address: string) => ({ 'x-forwarded-for': address });

  for (let i = 0; i < 4; i++) {
    const r = await attempt(kh, client.id, `guess-${i}`, 'wrong-password', from('203.0.113.7'));
    t.ok(r.refused);
  }
  const limited = await attempt(kh, client.id, username, password, from('203.0.113.7'));
  t.equal(limited.status, 429, 'the fifth post in the minute is refused, even with the right password');
  const retryAfter = Number(limited.headers.get('retry-after'));
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${retryAfter}`);
  t.match(limited.headers.get('content-type') ?? '', /text\/html/, 'a readable page');
  t.match(limited.html, /Too many sign-in attempts/);
  t.match(limited.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);

  const spoofed = await attempt(kh, client.id, username, 'wrong-password', from('198.51.100.1, 203.0.113.7'));
  t.equal(spoofed.status, 429, 'an address the client wrote into X-Forwarded-For itself changes nothing: the proxy-seen one counts');

  const other = await attempt(kh, client.id, username, password, from('203.0.113.8'));
  t.ok(signedIn(other), 'another address is not limited');
  const { rows } = await kh.db.pool.query<{ count: string }>("SELECT count(*) FROM signin_failures");
  t.equal(Number(rows[0]!.count), 4, 'the refused posts counted no failure against any name (only the four guesses did)');
});

t.test('an administrator sees a lock and ends it, through the admin API or the CLI', async (t) => {
  const kh = await startTestApp(t, { env: { LOCKOUT_THRESHOLD: '2', LOCKOUT_SECONDS: '600', RATE_LIMIT_SIGNIN_PER_MINUTE: '0' } });
  const { api } = await adminToken(kh);
  const { client } = await createClient(kh.clients);
  const { user, username, password } = await createUser(kh.users);
  const lock = async () => {
    for (let i = 0; i < 2; i++) await attempt(kh, client.id, username, 'wrong-password');
  };

  const before = await api('GET', `/users/${user.id}`);
  t.equal(before.body.lockedUntil, null, 'not locked: lockedUntil is null');
  await lock();
  const locked = await api('GET', `/users/${user.id}`);
  const until = Date.parse(locked.body.lockedUntil);
  t.ok(until > Date.now() + 590_000 && until < Date.now() + 610_000, `lockedUntil is when the lock ends (${locked.body.lockedUntil})`);
  const listed = await api('GET', '/users');
  t.equal(listed.body.items.find((u: { id: string }) => u.id === user.id)?.lockedUntil, locked.body.lockedUntil, 'the list shows it too');

  const unlocked = await api('POST', `/users/${user.id}/unlock`);
  t.equal(unlocked.status, 200);
  t.equal(unlocked.body.lockedUntil, null);
  t.ok(signedIn((await attempt(kh, client.id, username, password))), 'the user signs in at once');
  t.equal((await api('POST', '/users/00000000-0000-4000-8000-000000000000/unlock')).status, 404, 'an unknown user is a 404');

  await lock();
  const viaCli = await runCli(kh.db.url, ['users', 'unlock', user.id, '--json']);
  t.equal(viaCli.code, 0, viaCli.stderr);
  t.equal(JSON.parse(viaCli.stdout).lockedUntil, null, 'the CLI prints what the API answers');
  const { rows: unlocks } = await kh.db.pool.query<{ actor: { kind: string } }>("SELECT actor FROM audit_events WHERE type = 'user.unlocked' ORDER BY id");
  t.same(unlocks.map((r) => r.actor.kind), ['client', 'cli'], 'each unlock is in the audit trail, with who did it');
  t.ok(signedIn((await attempt(kh, client.id, username, password))));
  const missing = await runCli(kh.db.url, ['users', 'unlock', 'not-a-user']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /there is no user with id "not-a-user"/);
});

t.test('two instances share one sign-in allowance per address, and one lockout per name', async (t) => {
  const env = { RATE_LIMIT_SIGNIN_PER_MINUTE: '4', LOCKOUT_THRESHOLD: '3', LOCKOUT_SECONDS: '600' };
  const a = await startTestApp(t, { env });
  const b = await startTestApp(t, { env, db: a.db });
  const { client } = await createClient(a.clients);
  const { username } = await createUser(a.users);

  t.ok((await attempt(a, client.id, username, 'wrong-1')).refused);
  t.ok((await attempt(b, client.id, username, 'wrong-2')).refused);
  const third = await attempt(a, client.id, username, 'wrong-3');
  t.match(third.html, LOCK_HINT, 'failures at either instance count against the one name');
  t.ok((await attempt(b, client.id, 'someone-else', 'wrong')).refused);
  const fifth = await attempt(a, client.id, 'someone-else', 'wrong');
  t.equal(fifth.status, 429, 'the fifth post from the address, across both instances, is refused');
  t.ok(Number(fifth.headers.get('retry-after')) >= 1, 'with Retry-After');
  t.equal((await attempt(b, client.id, 'someone-else', 'wrong')).status, 429, 'at the other instance too');
});
