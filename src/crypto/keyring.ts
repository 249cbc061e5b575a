import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Bytes of an AES-256 key. */
export const ENCRYPTION_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

/** Raised when sealed data cannot be opened: no key of the ring made it, or it was altered. */
export class SealedDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedDataError';
  }
}

/** A short, non-secret name for a key, stored beside what it sealed so the right key opens it. */
function keyId(key: Buffer): string {
  return createHash('sha256').update('keyhold key id\0').update(key).digest('base64url').slice(0, 10);
}

/**
 * Encryption at rest (AES-256-GCM) under the keys of `ENCRYPTION_KEYS`: the first seals, every one
 * opens, so a key can be rotated by putting a new one first and dropping the old one once everything
 * was resealed. `context` (e.g. a row id) is bound in as associated data, so sealed values cannot be
 * swapped between rows.
 */
export class Keyring {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #primary: { id: string; key: Buffer };

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('a keyring needs at least one key');
    for (const key of keys) {
      if (key.length !== ENCRYPTION_KEY_BYTES) throw new Error(`encryption keys are ${ENCRYPTION_KEY_BYTES} bytes`);
    }
    this.#keys = new Map(keys.map((key) => [keyId(key), key]));
    this.#primary = { id: keyId(keys[0]!), key: keys[0]! };
  }

  /** The id of the key that seals. */
  get primaryKeyId(): string {
    return this.#primary.id;
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#primary.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, this.#primary.id, iv.toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, id, iv, body] = sealed.split('.');
    if (version !== VERSION || !id || !iv || !body) throw new SealedDataError('not a sealed value');
    const key = this.#keys.get(id);
    if (!key) throw new SealedDataError(`sealed under key ${id}, which ENCRYPTION_KEYS does not hold`);
    const data = Buffer.from(body, 'base64url');
    if (data.length < TAG_BYTES) throw new SealedDataError('sealed value is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SealedDataError(`sealed value did not open under key ${id}: it was altered or belongs elsewhere`);
    }
  }

  /** True when `sealed` was sealed under the primary key (nothing to reseal). */
  isCurrent(sealed: string): boolean {
    return sealed.split('.')[1] === this.#primary.id;
  }
}

/** Parses one key as `ENCRYPTION_KEYS` holds it: base64 (or base64url) of 32 bytes. */
export function parseEncryptionKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return undefined;
  const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return key.length === ENCRYPTION_KEY_BYTES ? key : undefined;
}

export function generateEncryptionKey(): string {
  return randomBytes(ENCRYPTION_KEY_BYTES).toString('base64');
}
