import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger } from '../../src/logger.ts';

/** What a logger wrote, as text. */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void) {
    this.text += chunk.toString('utf8');
    callback();
  }
}

const SECRETS = ['hunter2', 'hunter3', 'secret-value-1', 'secret-value-2', 'token-value-1', 'token-value-2', 'token-value-3', 'cookie-value', 'code-value'];

function logSecrets(logger: ReturnType<typeof createLogger>) {
  logger.info(
    {
      password: 'hunter2-password',
      secret: { value: 'secret-value-1' },
      client_secret: 'secret-value-2',
      access_token: 'token-value-1',
      code: 'code-value',
      headers: { authorization: 'Bearer token-value-2', cookie: '_session=cookie-value' },
      body: { password: 'hunter3-password', refresh_token: 'token-value-3' },
      clientId: 'visible-client-id',
    },
    'something happened',
  );
}

t.test('JSON lines (not a terminal): one object a line, secrets censored', async (t) => {
  const out = new Capture();
  logSecrets(createLogger('info', out, { pretty: false }));
  const lines = out.text.trimEnd().split('\n');
  t.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]!);
  t.match(entry, { level: 30, service: 'keyhold', msg: 'something happened', clientId: 'visible-client-id', password: '[redacted]', access_token: '[redacted]' });
  t.equal(entry.headers.authorization, '[redacted]');
  t.equal(entry.body.password, '[redacted]');
  for (const leaked of SECRETS) t.notMatch(out.text, leaked, `${leaked} is censored`);
});

t.test('human-readable (a terminal): a pretty line, not JSON, secrets censored', async (t) => {
  const out = new Capture();
  logSecrets(createLogger('info', out, { pretty: true }));
  const [first, ...rest] = out.text.trimEnd().split('\n');
  t.match(first, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: something happened$/, 'time, level and message on the first line, uncoloured');
  t.throws(() => JSON.parse(out.text), 'not JSON');
  t.ok(rest.some((l) => /^\s+clientId: "visible-client-id"$/.test(l)), 'fields on the lines below');
  t.ok(rest.some((l) => /^\s+password: "\[redacted\]"$/.test(l)), 'redacted values shown as [redacted]');
  for (const leaked of SECRETS) t.notMatch(out.text, leaked, `${leaked} is censored`);
  t.notMatch(out.text, /service/, 'the constant service field is left out');
});

t.test('by default, a file descriptor that is not a terminal gets JSON lines', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'keyhold-log-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'log');
  const fd = openSync(file, 'w');
  logSecrets(createLogger('info', fd));
  closeSync(fd);
  const text = readFileSync(file, 'utf8');
  t.match(JSON.parse(text), { msg: 'something happened', password: '[redacted]' });
  for (const leaked of SECRETS) t.notMatch(text, leaked, `${leaked} is censored`);
});

t.test('the level applies in both formats', async (t) => {
  for (const pretty of [false, true]) {
    const out = new Capture();
    const logger = createLogger('warn', out, { pretty });
    logger.info('quiet');
    logger.warn('loud');
    t.notMatch(out.text, 'quiet', `pretty=${pretty}: below the level, nothing`);
    t.match(out.text, 'loud');
  }
});
