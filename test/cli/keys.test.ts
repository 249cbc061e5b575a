import { randomBytes } from 'node:crypto';
import t from 'tap';
import { Keyring } from '../../src/crypto/keyring.ts';
import { SIGNING_KEY_RETENTION } from '../../src/oidc/lifetimes.ts';
import { createKeysRepo } from '../../src/repos/keys.ts';
import { TEST_ENCRYPTION_KEY } from '../helpers/app.ts';
import { runCli } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/db.ts';

/** The keys commands as a real process: their output, and one line on stderr with a non-zero exit on error. */

const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';
const KID = '[0-9a-f-]{36}';

t.test('keys list, rotate and retire: what they print', async (t) => {
  const db = await createTestDatabase(t);
  const empty = await runCli(db.url, ['keys', 'list']);
  t.equal(empty.code, 0, empty.stderr);
  t.equal(empty.stdout, 'no signing keys\n', 'before the first start there are none');
  t.same(JSON.parse((await runCli(db.url, ['keys', 'list', '--json'])).stdout), { items: [] });

  const repo = createKeysRepo(db.pool, new Keyring([Buffer.from(TEST_ENCRYPTION_KEY, 'base64')]));
  await repo.ensure();
  const listed = await runCli(db.url, ['keys', 'list']);
  t.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split('\n');
  t.match(lines[0], /^KID +ALG +STATE +CREATED +ACTIVATES +RETIRES$/, 'a header');
  t.equal(lines.length, 3, 'and a line per key');
  for (const line of lines.slice(1)) t.match(line, new RegExp(`^${KID}  (RS256|ES256)  active  +${ISO}  ${ISO}  -$`));

  const rotated = await runCli(db.url, ['keys', 'rotate'], { KEY_ACTIVATION_DELAY: '600' });
  t.equal(rotated.code, 0, rotated.stderr);
  const [published, replaced, ...rest] = rotated.stdout.trimEnd().split('\n');
  t.match(published, new RegExp(`^new signing keys (RS256|ES256) ${KID}, (RS256|ES256) ${KID}: published now by every running instance, signing from ${ISO} \\(KEY_ACTIVATION_DELAY=600\\)$`));
  t.match(replaced, new RegExp(`^the keys they replace \\((RS256|ES256) ${KID}, (RS256|ES256) ${KID}\\) sign until then and stay published until ${ISO}$`));
  t.same(rest, []);
  const signsFrom = Date.parse(/signing from (\S+)/.exec(published!)![1]!);
  const until = Date.parse(/published until (\S+)$/.exec(replaced!)![1]!);
  t.equal(until - signsFrom, SIGNING_KEY_RETENTION * 1000, 'published for the retention after the new keys take over');

  const json = JSON.parse((await runCli(db.url, ['keys', 'list', '--json'])).stdout) as { items: Array<Record<string, unknown>> };
  t.equal(json.items.length, 4);
  t.same(Object.keys(json.items[0]!), ['kid', 'alg', 'state', 'createdAt', 'activatesAt', 'retiresAt']);
  t.same(json.items.map((k) => k.state), ['pending', 'pending', 'active', 'active'], 'newest first: the new keys pending, the old ones still signing');
  const toSecond = (iso: unknown) => String(iso).replace(/\.\d{3}Z$/, 'Z');
  t.same(json.items.slice(2).map((k) => toSecond(k.retiresAt)), [toSecond(new Date(until).toISOString()), toSecond(new Date(until).toISOString())], 'the retirement time it printed');

  const again = await runCli(db.url, ['keys', 'rotate', '--json'], { KEY_ACTIVATION_DELAY: '600' });
  t.equal(again.code, 0, again.stderr);
  const second = JSON.parse(again.stdout) as { keys: unknown[]; replaced: Array<{ kid: string }>; dropped: Array<{ kid: string; state: string }> };
  t.same(second.dropped.map((k) => k.kid).sort(), json.items.slice(0, 2).map((k) => k.kid).sort(), 'rotating again replaces the keys still pending');
  t.same(second.dropped.map((k) => k.state), ['retired', 'retired'], 'they never signed: retired at once');
  t.same(second.replaced.map((k) => k.kid).sort(), json.items.slice(2).map((k) => k.kid).sort(), 'the old keys sign on until the newest activate');

  const pending = (await repo.list()).find((k) => k.state === 'pending')!;
  const retired = await runCli(db.url, ['keys', 'retire', pending.kid]);
  t.equal(retired.code, 0, retired.stderr);
  t.equal(retired.stdout, `retired the ${pending.alg} key ${pending.kid}: every running instance stops publishing and accepting it within seconds\n`);
  const now = await runCli(db.url, ['keys', 'rotate', '--now']);
  t.equal(now.code, 0, now.stderr);
  t.match(now.stdout, new RegExp(`^new signing keys (RS256|ES256) ${KID}, (RS256|ES256) ${KID}: signing now on every running instance\\n`));
  t.match(now.stdout, /\nthe pending keys (RS256|ES256) [0-9a-f-]{36} were replaced before they signed and are retired\n/, 'the other pending key is replaced');
  t.match(now.stdout, /\nto withdraw a compromised key at once: keys retire KID\n$/);

  const { rows: events } = await db.pool.query<{ type: string; actor: { kind: string }; details: { reason?: string } }>(
    "SELECT type, actor, details FROM audit_events WHERE type LIKE 'key.%' ORDER BY id",
  );
  t.same(events.map((e) => `${e.type} by ${e.actor.kind}`), ['key.rotated by cli', 'key.rotated by cli', 'key.retired by cli', 'key.rotated by cli'], 'every rotation and retirement is in the audit trail');
  t.notOk(JSON.stringify(events).includes('"d"'), 'no private key material in it');
});

t.test('errors: one line, exit 1', async (t) => {
  const db = await createTestDatabase(t);
  const repo = createKeysRepo(db.pool, new Keyring([Buffer.from(TEST_ENCRYPTION_KEY, 'base64')]));
  await repo.ensure();
  const active = (await repo.list()).find((k) => k.alg === 'ES256')!;
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['keys', 'retire'], {}, /^keyhold keys retire: give exactly one key id \(keys list shows them\)\n$/],
    [['keys', 'retire', 'a', 'b'], {}, /^keyhold keys retire: give exactly one key id/],
    [['keys', 'retire', 'no-such-key'], {}, /^keyhold keys retire: there is no signing key with id "no-such-key"\n$/],
    [['keys', 'retire', active.kid], {}, new RegExp(`^keyhold keys retire: the ES256 key ${active.kid} is the one signing ES256: make another sign first \\(keys rotate --now\\), then retire it\\n$`)],
    [['keys', 'rotate', '--later'], {}, /^keyhold keys rotate: Unknown option '--later'[^\n]*\n$/],
    [['keys', 'list', 'extra'], {}, /^keyhold keys list: [^\n]*\n$/],
    [['keys', 'rotate'], { KEY_ACTIVATION_DELAY: 'soon' }, /^keyhold: invalid configuration:\n {2}KEY_ACTIVATION_DELAY: must be a whole number between 0 and 2592000\n$/],
    [
      ['keys', 'rotate'],
      { ENCRYPTION_KEYS: randomBytes(32).toString('base64') },
      /^keyhold keys rotate: ENCRYPTION_KEYS does not open the signing keys in the database \(sealed under key [\w-]+, which ENCRYPTION_KEYS does not hold\); use the keys the Keyhold instances run with\n$/,
    ],
  ];
  for (const [args, env, stderr] of cases) {
    const run = await runCli(db.url, args, env);
    t.equal(run.code, 1, `${args.join(' ')} exits 1`);
    t.match(run.stderr, stderr, 'with one clear line');
    t.equal(run.stdout, '');
  }
  t.equal((await repo.list()).length, 2, 'none of them changed a key');
  const other = await runCli(db.url, ['keys', 'list'], { ENCRYPTION_KEYS: randomBytes(32).toString('base64') });
  t.equal(other.code, 0, 'listing opens no key: it works whatever ENCRYPTION_KEYS holds');
});
