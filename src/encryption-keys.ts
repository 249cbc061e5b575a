import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError, type Config } from './config.ts';
import { generateEncryptionKey, Keyring, parseEncryptionKey } from './crypto/keyring.ts';

/** Where the embedded database's generated encryption key lives, beside its cluster. */
export const ENCRYPTION_KEY_FILE = 'encryption.key';

/**
 * The keyring that encrypts signing and cookie keys at rest. `ENCRYPTION_KEYS` when set. Otherwise,
 * with the embedded database, a key generated into `DATA_DIR/encryption.key` (mode 0600) on the first
 * start, so `npm start` needs no set-up; a backup of the database alone then holds no usable key, but
 * a copy of the whole `DATA_DIR` does. A Postgres server (`DATABASE_URL`) must be given the keys:
 * generating one per instance would leave instances unable to read each other's keys.
 */
export async function loadKeyring(config: Config): Promise<Keyring> {
  if (config.encryptionKeys.length > 0) return new Keyring(config.encryptionKeys);
  if (config.databaseUrl) {
    throw new ConfigError([
      'ENCRYPTION_KEYS: required with DATABASE_URL (every instance needs the same keys); generate one with: openssl rand -base64 32',
    ]);
  }
  const dir = resolve(config.dataDir);
  const file = join(dir, ENCRYPTION_KEY_FILE);
  await mkdir(dir, { recursive: true });
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined) {
    const key = parseEncryptionKey(existing);
    if (!key) throw new ConfigError([`${file}: does not hold a base64 key of 32 bytes; restore it from a backup, or set ENCRYPTION_KEYS`]);
    return new Keyring([key]);
  }
  const generated = generateEncryptionKey();
  // 'wx': two processes starting together must not overwrite each other's key.
  await writeFile(file, `${generated}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return loadKeyring(config);
}
