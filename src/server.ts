import { join } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { ensureAdmin } from './bootstrap.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { SealedDataError } from './crypto/keyring.ts';
import { openDatabase } from './db/database.ts';
import { EmbeddedAccessError } from './db/embedded-access.ts';
import { ChangedMigrationError } from './db/migrate.ts';
import { ENCRYPTION_KEY_FILE, loadKeyring } from './encryption-keys.ts';
import { SHUTDOWN_GRACE_SECONDS } from './http/drain.ts';
import { createLogger } from './logger.ts';
import { createUsersRepo } from './repos/users.ts';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`keyhold: the server did not start because of its configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger(config.logLevel);
const keyring = await loadKeyring(config).catch(async (err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`keyhold: the server did not start because of its configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  throw err;
});

const db = await openDatabase(config, logger).catch((err: unknown) => {
  if (err instanceof ChangedMigrationError) {
    process.stderr.write(`keyhold: the server did not start: ${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof EmbeddedAccessError) {
    process.stderr.write(`keyhold: ${err.message}\n`);
    process.exit(1);
  }
  logger.fatal({ err }, 'the database could not be opened');
  process.exit(1);
});

const admin = await ensureAdmin(createUsersRepo(db.pool), { username: config.adminUsername, password: config.adminPassword });
if (admin.generatedPassword) {
  // Printed once, to the terminal, never through the logger.
  process.stdout.write(
    `\n  Keyhold created the administrator "${config.adminUsername}" with the password:\n\n    ${admin.generatedPassword}\n\n  It is shown only this once. Sign in at ${config.issuer}/admin and keep it safe.\n\n`,
  );
} else if (admin.created) {
  logger.info({ username: config.adminUsername }, 'administrator created from ADMIN_USERNAME/ADMIN_PASSWORD');
}

const { app, drain } = await buildApp({ config, pool: db.pool, databaseUrl: db.url, logger, keyring }).catch(async (err: unknown) => {
  await db.close();
  if (err instanceof SealedDataError) {
    // With the embedded database the key lives in DATA_DIR: a copy of the data directory without it (or
    // with another one) is what leads here, and the file is what to put back.
    const remedy = config.encryptionKeys.length === 0 && !config.databaseUrl
      ? `Put back the ${join(config.dataDir, ENCRYPTION_KEY_FILE)} these keys were sealed with (it belongs with the data directory, see the README, "Backups"), or start with that key in ENCRYPTION_KEYS`
      : 'Start with the ENCRYPTION_KEYS they were sealed under (see the README, "Encryption keys")';
    process.stderr.write(`keyhold: the signing and cookie keys in the database cannot be opened: ${err.message}. ${remedy}.\n`);
    process.exit(1);
  }
  throw err;
});

// SIGTERM (an orchestrator, docker stop): /readyz answers 503 for SHUTDOWN_DRAIN_SECONDS while requests
// are still served, then the listener closes and what was accepted completes (http/drain.ts). Ctrl-C at a
// terminal (SIGINT) and a crash skip the wait. Past the grace the process exits 1.
closeWithGrace({ delay: (config.shutdownDrainSeconds + SHUTDOWN_GRACE_SECONDS) * 1000 }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'shutting down after an error');
  else logger.info({ signal, drainSeconds: signal === 'SIGTERM' ? config.shutdownDrainSeconds : 0 }, 'shutting down');
  await drain.shutdown({ drainMs: signal === 'SIGTERM' ? config.shutdownDrainSeconds * 1000 : 0 });
  await app.close();
  await db.close();
});

// The embedded Postgres ended by itself (killed, crashed): nothing can be served without it. Keyhold
// answers what it holds, then exits 1 so that its supervisor starts both again.
db.watch(({ pid }) => {
  logger.fatal({ pid, dataDir: config.dataDir }, 'the embedded Postgres stopped unexpectedly; Keyhold exits so that it is restarted with it');
  setTimeout(() => process.exit(1), 3000).unref();
  void drain.shutdown({ drainMs: 0 }).then(() => app.close()).finally(() => process.exit(1));
});

try {
  await app.listen({ port: config.port, host: config.host });
  logger.info({ issuer: config.issuer, discovery: `${config.issuer}/.well-known/openid-configuration` }, 'Keyhold is ready');
} catch (err) {
  logger.fatal({ err }, 'could not listen');
  await db.close();
  process.exit(1);
}
