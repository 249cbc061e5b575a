import { hash, randomBytes } from 'node:crypto';

/**
 * What Keyhold stores in place of a bearer value (a token, code, session or interaction id, a client
 * secret): SHA-256, base64url. Every such value carries at least 126 random bits, so a fast digest is
 * as good as a slow hash and cannot be reversed; migrations use the SQL twin `keyhold_digest(text)`.
 */
export function digest(value: string): string {
  // The one-shot form: no Hash object per call (it runs several times on every token request).
  return hash('sha256', value, 'base64url');
}

/** Every client secret starts with this, so secret scanners can recognise a leaked one. */
export const CLIENT_SECRET_PREFIX = 'khs_';
/** 256 random bits per secret. */
const CLIENT_SECRET_BYTES = 32;

/** A new client secret: `khs_` and 256 random bits, base64url. Only its digest is ever stored. */
export function generateClientSecret(): string {
  return `${CLIENT_SECRET_PREFIX}${randomBytes(CLIENT_SECRET_BYTES).toString('base64url')}`;
}
