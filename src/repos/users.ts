import { createBatcher } from '../db/batcher.ts';
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../db/pool.ts';

export interface User {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  roles: string[];
  disabled: boolean;
  /** Bumped by every change to the user, in the change's own statement. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewUser {
  username: string;
  email?: string | null;
  name?: string | null;
  roles?: string[];
  disabled?: boolean;
  passwordHash?: string | null;
}

export interface UserChanges {
  email?: string | null;
  name?: string | null;
  roles?: string[];
  disabled?: boolean;
  passwordHash?: string;
}

const COLUMNS = 'id, username, email, name, roles, disabled, version, created_at, updated_at';

interface UserRow {
  id: string;
  username: string;
  email: string | null;
  name: string | null;
  roles: string[];
  disabled: boolean;
  /** bigint: pg hands it over as a string. */
  version: string | number;
  created_at: Date;
  updated_at: Date;
}

/** A user row as JSON (SQL `row_to_json` of these columns), for statements that read one along with other rows. */
export const USER_JSON_COLUMNS = COLUMNS;

export function userFromJson(json: Omit<UserRow, 'created_at' | 'updated_at'> & { created_at: string; updated_at: string }): User {
  return toUser({ ...json, created_at: new Date(json.created_at), updated_at: new Date(json.updated_at) });
}

const toUser = (r: UserRow): User => ({
  id: r.id,
  username: r.username,
  email: r.email,
  name: r.name,
  roles: r.roles,
  disabled: r.disabled,
  version: Number(r.version),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class UsernameTakenError extends Error {
  constructor(username: string) {
    super(`the username ${JSON.stringify(username)} is already taken`);
    this.name = 'UsernameTakenError';
  }
}

export function createUsersRepo(pool: Pool) {
  const findByIdBatch = createBatcher<string, User | undefined>(async (ids) => {
    const { rows } = await pool.query<UserRow>({ name: 'keyhold-users-by-id', text: `SELECT ${COLUMNS} FROM users WHERE id = ANY ($1::uuid[])`, values: [ids] });
    const byId = new Map(rows.map((r) => [r.id, toUser(r)]));
    return ids.map((id) => byId.get(id));
  });

  return {
    /**
     * Runs `fn` in one transaction. The methods that take a `db` join it when given its connection, as do
     * other repositories' (a user's change and the tokens it ends commit together).
     */
    transaction<T>(fn: (db: PoolClient) => Promise<T>): Promise<T> {
      return withTransaction(pool, fn);
    },

    async create(input: NewUser, db: Queryable = pool): Promise<User> {
      try {
        const { rows } = await db.query<UserRow>(
          `INSERT INTO users (username, email, name, roles, disabled, password_hash)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
          [input.username, input.email ?? null, input.name ?? null, input.roles ?? [], input.disabled ?? false, input.passwordHash ?? null],
        );
        return toUser(rows[0]!);
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new UsernameTakenError(input.username);
        throw err;
      }
    },

    /** A user by id; read on every token request that has one, so concurrent reads share a statement. */
    async findById(id: string, db?: Queryable, { lock = false }: { lock?: boolean } = {}): Promise<User | undefined> {
      if (!isUuid(id)) return undefined;
      if (db) {
        // Inside a transaction: read on its connection, the row locked until it ends when asked.
        const { rows } = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
        return rows[0] ? toUser(rows[0]) : undefined;
      }
      return findByIdBatch(id);
    },

    /** For sign-in: the user and its password hash, by case-insensitive username. */
    async findCredentials(username: string, db: Queryable = pool): Promise<{ user: User; passwordHash: string | null } | undefined> {
      const { rows } = await db.query<UserRow & { password_hash: string | null }>(
        `SELECT ${COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1)`,
        [username],
      );
      const r = rows[0];
      return r ? { user: toUser(r), passwordHash: r.password_hash } : undefined;
    },

    /**
     * Replaces a password hash made from a password as typed by one of its normalised form, found at
     * sign-in. Only while the hash is still `from` (a password changed meanwhile stays), and neither
     * version nor updated_at moves: the password is the same, so the user has not changed.
     */
    async replacePasswordHash(id: string, from: string, to: string, db: Queryable = pool): Promise<boolean> {
      const { rowCount } = await db.query('UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2', [id, from, to]);
      return rowCount === 1;
    },

    /** Keyset pagination by (created_at, id), in index order, as for clients. */
    async list({ search, limit = 50, after }: { search?: string; limit?: number; after?: { createdAt: Date; id: string } } = {}): Promise<User[]> {
      // search: a LIKE pattern, its wildcards escaped, found in the username, email or name whatever the case.
      const { rows } = await pool.query<UserRow>(
        `SELECT ${COLUMNS} FROM users
         WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid))
           AND ($4::text IS NULL OR username ILIKE '%' || $4 || '%' OR email ILIKE '%' || $4 || '%' OR name ILIKE '%' || $4 || '%')
         ORDER BY created_at, id LIMIT $3`,
        [after?.createdAt ?? null, after?.id ?? null, limit, search ?? null],
      );
      return rows.map(toUser);
    },

    async update(id: string, changes: UserChanges, db: Queryable = pool): Promise<User | undefined> {
      if (!isUuid(id)) return undefined;
      const sets: string[] = [];
      const values: unknown[] = [id];
      const set = (column: string, value: unknown) => {
        values.push(value);
        sets.push(`${column} = $${values.length}`);
      };
      if (changes.email !== undefined) set('email', changes.email);
      if (changes.name !== undefined) set('name', changes.name);
      if (changes.roles !== undefined) set('roles', changes.roles);
      if (changes.disabled !== undefined) set('disabled', changes.disabled);
      if (changes.passwordHash !== undefined) set('password_hash', changes.passwordHash);
      const { rows } = await db.query<UserRow>(
        `UPDATE users SET ${[...sets, 'updated_at = now()', 'version = version + 1'].join(', ')} WHERE id = $1 RETURNING ${COLUMNS}`,
        values,
      );
      return rows[0] ? toUser(rows[0]) : undefined;
    },

    async delete(id: string, db: Queryable = pool): Promise<boolean> {
      if (!isUuid(id)) return false;
      const { rowCount } = await db.query('DELETE FROM users WHERE id = $1', [id]);
      return rowCount === 1;
    },

    /**
     * The ids of the enabled users holding the role, their rows locked (FOR UPDATE, in id order, so two
     * transactions taking them cannot deadlock) until `db`'s transaction ends: none of them can be changed
     * or deleted meanwhile, and a transaction that waited for them reads them as they were committed.
     */
    async lockEnabledWithRole(role: string, db: PoolClient): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        'SELECT id FROM users WHERE $1 = ANY (roles) AND NOT disabled ORDER BY id FOR UPDATE',
        [role],
      );
      return rows.map((r) => r.id);
    },

    /** Whether an enabled user holds the role. */
    async anyWithRole(role: string, db: Queryable = pool): Promise<boolean> {
      const { rowCount } = await db.query('SELECT 1 FROM users WHERE $1 = ANY (roles) AND NOT disabled LIMIT 1', [role]);
      return (rowCount ?? 0) > 0;
    },
  };
}

export type UsersRepo = ReturnType<typeof createUsersRepo>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
