import { randomBytes } from 'node:crypto';
import { hashSecret } from './passwords.ts';
import type { UsersRepo } from './repos/users.ts';

export const ADMIN_ROLE = 'admin';

/**
 * Creates the first administrator when no enabled user holds the admin role. Returns the generated password
 * (to be shown once) when none was configured; undefined when nothing was created or the password was given.
 */
export async function ensureAdmin(
  users: UsersRepo,
  { username, password }: { username: string; password: string | undefined },
): Promise<{ created: boolean; generatedPassword?: string }> {
  if (await users.anyWithRole(ADMIN_ROLE)) return { created: false };
  const generated = password ? undefined : randomBytes(18).toString('base64url');
  const existing = await users.findCredentials(username);
  if (existing) {
    // A user by that name exists but is not an enabled admin: promote (and enable) it rather than fail
    // the start. This is also the way back in when every administrator was disabled.
    await users.update(existing.user.id, {
      roles: [...new Set([...existing.user.roles, ADMIN_ROLE])],
      disabled: false,
      ...(password || generated ? { passwordHash: await hashSecret((password ?? generated)!) } : {}),
    });
  } else {
    await users.create({ username, roles: [ADMIN_ROLE], passwordHash: await hashSecret((password ?? generated)!) });
  }
  return generated ? { created: true, generatedPassword: generated } : { created: true };
}
