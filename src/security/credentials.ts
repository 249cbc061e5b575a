import { hashSecret, verifyDummy, verifySecret } from '../passwords.ts';

/**
 * How a typed username and password are read, in one place: every sign-in, lockout count, creation and
 * password change goes through here, so " alice " and "ALICE", or a password typed in NFD and in NFC, mean
 * the same thing wherever they are typed (docs/security.md).
 */

/**
 * A username as typed, trimmed (a pasted name often carries spaces). Its case is kept: names are stored as
 * given and compared by their lower case (`usernameKey`, SQL `lower(username)`).
 */
export function normalizeUsername(typed: string): string {
  return typed.trim();
}

/** What two usernames that are the same user share: the trimmed name in lower case. */
export function usernameKey(typed: string): string {
  return normalizeUsername(typed).toLowerCase();
}

/**
 * A password in Unicode NFC (NIST SP 800-63B 5.1.1.2), so that the same characters typed on keyboards or
 * systems that compose them differently hash alike. Not trimmed: spaces are allowed in passwords.
 */
export function normalizePassword(typed: string): string {
  return typed.normalize('NFC');
}

/** The argon2id hash of a password, in its normalised form. */
export function hashPassword(plain: string): Promise<string> {
  return hashSecret(normalizePassword(plain));
}

export interface PasswordCheck {
  ok: boolean;
  /** Set when the stored hash was made from a password as typed rather than normalised: its replacement. */
  rehash?: string;
}

/**
 * Checks a typed password against a stored hash. Hashes made before passwords were normalised may hold a
 * non-NFC form: when the NFC form fails and the typed form differs from it, the typed form is tried too,
 * and a match is answered with a hash of the NFC form to store, so the next sign-in takes the normal path.
 * A legacy hash of an NFD password therefore still matches the NFD form only, until that first sign-in.
 * That fallback costs a second verification, only when the typed password is not NFC; `verifyNoPassword`
 * spends the same.
 */
export async function verifyPassword(hash: string, typed: string): Promise<PasswordCheck> {
  const normal = normalizePassword(typed);
  if (await verifySecret(hash, normal)) return { ok: true };
  if (normal === typed || !(await verifySecret(hash, typed))) return { ok: false };
  return { ok: true, rehash: await hashSecret(normal) };
}

/**
 * For an unknown user, a disabled one or a locked name: the work of `verifyPassword` with a wrong password
 * (one verification, two when the typed password is not NFC), so the time tells none of them apart.
 */
export async function verifyNoPassword(typed: string): Promise<PasswordCheck> {
  const normal = normalizePassword(typed);
  await verifyDummy(normal);
  if (normal !== typed) await verifyDummy(typed);
  return { ok: false };
}
