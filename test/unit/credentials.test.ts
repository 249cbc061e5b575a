import t from 'tap';
import { hashSecret, verifySecret } from '../../src/passwords.ts';
import { hashPassword, normalizePassword, normalizeUsername, usernameKey, verifyNoPassword, verifyPassword } from '../../src/security/credentials.ts';

const NFC = 'd\u00e9j\u00e0 vu';
const NFD = 'de\u0301ja\u0300 vu';

t.test('usernames: trimmed, compared in lower case, stored as typed', async (t) => {
  t.equal(normalizeUsername('  Alice\t'), 'Alice');
  t.equal(usernameKey(' Alice '), usernameKey('alice'));
  t.equal(normalizeUsername('al ice'), 'al ice', 'only the ends');
});

t.test('passwords: NFC, never trimmed', async (t) => {
  t.equal(normalizePassword(NFD), NFC);
  t.equal(normalizePassword(` ${NFC} `), ` ${NFC} `);
  const hash = await hashPassword(NFD);
  t.ok(await verifySecret(hash, NFC));
  t.same(await verifyPassword(hash, NFD), { ok: true }, 'either form, no rehash');
  t.same(await verifyPassword(hash, NFC), { ok: true });
  t.same(await verifyPassword(hash, 'deja vu'), { ok: false });
});

t.test('a hash of a password as typed before normalisation', async (t) => {
  const legacy = await hashSecret(NFD);
  const check = await verifyPassword(legacy, NFD);
  t.equal(check.ok, true);
  t.ok(check.rehash && (await verifySecret(check.rehash, NFC)), 'answered with a hash of the NFC form to store');
  t.same(await verifyPassword(legacy, NFC), { ok: false }, 'the NFC form has no other form to try');
  t.same(await verifyPassword(legacy, `${NFD}x`), { ok: false });
  t.same(await verifyNoPassword(NFD), { ok: false });
});
