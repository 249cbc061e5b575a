import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';

t.test('defaults are those the README documents', async (t) => {
  const config = loadConfig({});
  t.equal(config.port, 3000);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.issuer, 'http://localhost:3000');
  t.equal(config.databaseUrl, undefined);
  t.equal(config.dataDir, './data');
  t.equal(config.logLevel, 'info');
  t.equal(config.adminUsername, 'admin');
  t.equal(config.adminPassword, undefined);
  t.equal(config.trustProxy, false);
  t.equal(config.refreshTokenLifetime, 1_209_600);
  t.ok(Object.isFrozen(config));
});

t.test('the issuer defaults to the port and keeps a path', async (t) => {
  t.equal(loadConfig({ PORT: '8080' }).issuer, 'http://localhost:8080');
  t.equal(loadConfig({ ISSUER: 'https://id.example.com/oidc/' }).issuer, 'https://id.example.com/oidc');
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  t.equal(loadConfig({ PORT: '' }).port, 3000, 'an empty variable counts as unset');
});

t.test('every bad variable is reported, one line each', async (t) => {
  const env = {
    PORT: 'eighty',
    ISSUER: 'ftp://example.com',
    DATABASE_URL: 'mysql://localhost/db',
    LOG_LEVEL: 'loud',
    TRUST_PROXY: 'maybe',
    REFRESH_TOKEN_LIFETIME: '-5',
    ADMIN_PASSWORD: 'short',
    ADMIN_USERNAME: 'bad name',
  };
  const err = t.throws(() => loadConfig(env)) as unknown as ConfigError;
  t.type(err, ConfigError);
  t.equal(err.problems.length, Object.keys(env).length, 'one line per bad variable');
  for (const name of Object.keys(env)) {
    t.ok(err.problems.some((line) => line.startsWith(`${name}: `)), `${name} is named`);
  }
  t.notMatch(err.message, 'short', 'the bad password itself is not echoed');
});

t.test('numbers are whole and in range', async (t) => {
  for (const port of ['0', '65536', '3000.5', '1e3', ' 80']) {
    t.throws(() => loadConfig({ PORT: port }), ConfigError, `PORT=${port}`);
  }
  t.throws(() => loadConfig({ REFRESH_TOKEN_LIFETIME: '59' }), ConfigError);
  t.equal(loadConfig({ REFRESH_TOKEN_LIFETIME: '86400' }).refreshTokenLifetime, 86400);
});

t.test('the front door: lockout, rate limits and the refresh grace', async (t) => {
  const defaults = loadConfig({});
  t.same(defaults.lockout, { threshold: 10, seconds: 60, maxSeconds: 900 }, 'ten failures, a minute, doubling up to fifteen minutes');
  t.same(defaults.rateLimits, { signin: 60, tokenFailures: 60 });
  t.equal(defaults.refreshTokenReuseGrace, 0, 'the grace is off unless asked for');

  const set = loadConfig({ LOCKOUT_THRESHOLD: '5', LOCKOUT_SECONDS: '30', LOCKOUT_MAX_SECONDS: '3600', RATE_LIMIT_SIGNIN_PER_MINUTE: '0', RATE_LIMIT_TOKEN_FAILURES_PER_MINUTE: '200', REFRESH_TOKEN_REUSE_GRACE: '10' });
  t.same(set.lockout, { threshold: 5, seconds: 30, maxSeconds: 3600 });
  t.same(set.rateLimits, { signin: 0, tokenFailures: 200 }, '0 turns a limit off');
  t.equal(set.refreshTokenReuseGrace, 10);

  for (const [name, value] of [['LOCKOUT_THRESHOLD', '0'], ['LOCKOUT_SECONDS', '-1'], ['REFRESH_TOKEN_REUSE_GRACE', '301'], ['RATE_LIMIT_SIGNIN_PER_MINUTE', 'lots']] as const) {
    const err = t.throws(() => loadConfig({ [name]: value }), ConfigError) as ConfigError;
    t.match(err.problems[0], new RegExp(`^${name}: `), `${name}=${value} is refused by name`);
  }
  const capBelow = t.throws(() => loadConfig({ LOCKOUT_SECONDS: '600', LOCKOUT_MAX_SECONDS: '60' }), ConfigError) as ConfigError;
  t.match(capBelow.problems[0], /^LOCKOUT_MAX_SECONDS: must be at least LOCKOUT_SECONDS/);
});

t.test('the audit trail', async (t) => {
  t.same(loadConfig({}).audit, { retentionDays: 90, tokenEvents: false }, 'ninety days; token issuance not recorded');
  t.same(loadConfig({ AUDIT_RETENTION_DAYS: '365', AUDIT_TOKEN_EVENTS: 'true' }).audit, { retentionDays: 365, tokenEvents: true });
  const err = t.throws(() => loadConfig({ AUDIT_RETENTION_DAYS: '0', AUDIT_TOKEN_EVENTS: 'sometimes' }), ConfigError) as ConfigError;
  t.same(err.problems.map((p) => p.split(':')[0]), ['AUDIT_RETENTION_DAYS', 'AUDIT_TOKEN_EVENTS'], 'one line per bad variable');
});

t.test('METRICS_ALLOW: loopback by default, a list of addresses and CIDR ranges, one line when bad', async (t) => {
  t.same(loadConfig({}).metricsAllow, [
    { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
    { address: '::1', prefix: 128, family: 'ipv6' },
  ]);
  t.same(loadConfig({ METRICS_ALLOW: '10.0.0.0/8, 192.0.2.7,fd00::/8' }).metricsAllow, [
    { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
    { address: '192.0.2.7', prefix: 32, family: 'ipv4' },
    { address: 'fd00::', prefix: 8, family: 'ipv6' },
  ]);
  for (const value of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/-1', '127.0.0.1,,::1', '300.0.0.1']) {
    const err = t.throws(() => loadConfig({ METRICS_ALLOW: value, PORT: 'x' }), ConfigError) as ConfigError;
    t.equal(err.problems.length, 2, `METRICS_ALLOW=${value}: one line, beside the other bad variable`);
    t.match(err.problems.find((p) => p.startsWith('METRICS_ALLOW: ')), /must be comma-separated IP addresses or CIDR ranges/);
  }
});

t.test('signing-key rotation: the activation delay and the schedule', async (t) => {
  const defaults = loadConfig({});
  t.equal(defaults.keyActivationDelay, 3600, 'new keys sign an hour after they are published');
  t.equal(defaults.keyRotationDays, 0, 'no scheduled rotation unless asked for');

  const set = loadConfig({ KEY_ACTIVATION_DELAY: '0', KEY_ROTATION_DAYS: '90' });
  t.equal(set.keyActivationDelay, 0, '0: rotations sign at once');
  t.equal(set.keyRotationDays, 90);

  const err = t.throws(() => loadConfig({ KEY_ACTIVATION_DELAY: '1.5', KEY_ROTATION_DAYS: '-1' }), ConfigError) as ConfigError;
  t.same(err.problems.map((line) => line.split(':')[0]), ['KEY_ACTIVATION_DELAY', 'KEY_ROTATION_DAYS'], 'one line per bad variable');
  t.throws(() => loadConfig({ KEY_ACTIVATION_DELAY: '2592001' }), ConfigError, 'a delay over 30 days is refused');
  t.throws(() => loadConfig({ KEY_ROTATION_DAYS: '3651' }), ConfigError, 'a schedule over ten years is refused');
});
