import t from 'tap';
import { signingKeyStates } from '../../src/repos/keys.ts';
import { ID_TOKEN_TTL, SESSION_TTL, SIGNING_KEY_RETENTION } from '../../src/oidc/lifetimes.ts';

/** Signing keys' states by the clock: pending, active, retiring, retired. */

const T0 = Date.parse('2030-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const R = 100;

interface Row {
  id: string;
  alg: string;
  created_at: Date;
  activates_at: Date;
  retires_at: Date | null;
}
const key = (id: string, created: number, activates = created, retires: number | null = null, alg = 'RS256'): Row => ({
  id,
  alg,
  created_at: at(created),
  activates_at: at(activates),
  retires_at: retires === null ? null : at(retires),
});

const states = (rows: Row[], now: number) =>
  Object.fromEntries(signingKeyStates(rows, at(now), R).map((k) => [k.kid, k.state]));
const retiresAt = (rows: Row[], now: number) =>
  Object.fromEntries(signingKeyStates(rows, at(now), R).map((k) => [k.kid, k.retiresAt?.toISOString() ?? null]));

t.test('a rotation: published at once, signs after the delay, the old key retires a retention later', async (t) => {
  const rows = [key('old', 0), key('new', 50, 60)];
  t.same(states(rows, 55), { old: 'active', new: 'pending' }, 'before the new key activates, the old one signs; the new one is published');
  t.same(retiresAt(rows, 55), { old: at(60 + R).toISOString(), new: null }, 'the old key will leave the JWKS a retention after the new one activates');
  t.same(states(rows, 60), { old: 'retiring', new: 'active' }, 'at activation the new key signs; the old one is still published');
  t.same(states(rows, 60 + R - 1), { old: 'retiring', new: 'active' });
  t.same(states(rows, 60 + R), { old: 'retired', new: 'active' }, 'a retention after, the old key is gone');
  t.same(states(rows, -1), { old: 'pending', new: 'pending' }, 'before their activation times, both wait');
});

t.test('one key signs per algorithm; algorithms rotate apart', async (t) => {
  const rows = [key('rs-1', 0), key('es-1', 0, 0, null, 'ES256'), key('rs-2', 10), key('es-2', 20, 20, null, 'ES256')];
  t.same(states(rows, 15), { 'rs-1': 'retiring', 'es-1': 'active', 'rs-2': 'active', 'es-2': 'pending' });
  t.same(states(rows, 25), { 'rs-1': 'retiring', 'es-1': 'retiring', 'rs-2': 'active', 'es-2': 'active' });
  t.same(states(rows, 20 + R), { 'rs-1': 'retired', 'es-1': 'retired', 'rs-2': 'active', 'es-2': 'active' });
});

t.test('a pending key replaced (or retired by hand) before it activated never signs and changes nothing', async (t) => {
  // "p" was pending until 60; a rotation at 30 retired it and made "n", which activates at 90.
  const rows = [key('a', 0), key('p', 10, 60, 30), key('n', 30, 90)];
  t.same(states(rows, 70), { a: 'active', p: 'retired', n: 'pending' }, 'past its activation time the dropped key stays retired; the old key still signs');
  t.same(retiresAt(rows, 70), { a: at(90 + R).toISOString(), p: at(30).toISOString(), n: null });
  t.same(states(rows, 95), { a: 'retiring', p: 'retired', n: 'active' });
});

t.test('a key retired by hand leaves at once, and the keys before it keep the schedule they had', async (t) => {
  // "b" signed from 10, "c" from 20 (a rotation --now); "b" was then retired by hand at 25.
  const rows = [key('a', 0), key('b', 10), key('c', 20), key('b2', 20, 20, null, 'ES256')];
  rows[1]!.retires_at = at(25);
  t.same(states(rows, 30), { a: 'retiring', b: 'retired', c: 'active', b2: 'active' });
  t.same(retiresAt(rows, 30), { a: at(10 + R).toISOString(), b: at(25).toISOString(), c: null, b2: null }, '"a" stopped signing when "b" activated, retired or not');
  t.same(states(rows, 10 + R), { a: 'retired', b: 'retired', c: 'active', b2: 'active' });
});

t.test('the retention: the longer of an ID token and a session, the horizon of an id_token_hint', async (t) => {
  t.ok(ID_TOKEN_TTL < SESSION_TTL, 'a session outlasts an ID token');
  t.equal(SIGNING_KEY_RETENTION, SESSION_TTL, 'so a key stays published as long as a session lasts');
  const rows = [key('old', 0), key('new', 10)];
  const [old] = signingKeyStates(rows, at(20));
  t.equal(old!.retiresAt!.getTime(), at(10 + SIGNING_KEY_RETENTION).getTime(), 'the default retention is applied');
});
