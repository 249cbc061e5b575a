import { randomBytes } from 'node:crypto';
import type { UsersRepo } from './repos/users.ts';
import { ADMIN_ROLE } from './roles.ts';
import { hashPassword, normalizeUsername } from './security/credentials.ts';


/** Any constant distinct from the migration and key locks: serialises the first administrator's creation. */
const ADMIN_LOCK = 0x61646d696en; // "admin"

/**
 * Creates the first administrator when no enabled user holds the admin role. Returns the generated password
 * (to be shown once) when none was configured; undefined when nothing was created or the password was given.
 * Instances starting together on an empty database agree: the check and the creation hold an advisory
 * lock, so exactly one creates the administrator and the others find it there.
 */
export async function ensureAdmin(
  users: UsersRepo,
  { username: configured, password }: { username: string; password: string | undefined },
): Promise<{ created: boolean; generatedPassword?: string }> {
  const username = normalizeUsername(configured);
  if (await users.anyWithRole(ADMIN_ROLE)) return { created: false };
  const generated = password ? undefined : randomBytes(18).toString('base64url');
  // Hashed before the lock is taken: an instance that loses the race discards it.
  const passwordHash = await hashPassword(password || generated!);
  const created = await users.transaction(async (db) => {
    await db.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_LOCK.toString()]);
    if (await users.anyWithRole(ADMIN_ROLE, db)) return false;
    const existing = await users.findCredentials(username, db);
    if (existing) {
      // A user by that name exists but is not an enabled admin: promote (and enable) it rather than fail
      // the start. This is also the way back in when every administrator was disabled.
      await users.update(existing.user.id, { roles: [...new Set([...existing.user.roles, ADMIN_ROLE])], disabled: false, passwordHash }, db);
    } else {
      await users.create({ username, roles: [ADMIN_ROLE], passwordHash }, db);
    }
    return true;
  });
  if (!created) return { created: false };
  return generated ? { created: true, generatedPassword: generated } : { created: true };
}
