import { z } from 'zod';
import type { PoolClient } from '../db/pool.ts';
import { conflict, notFound, preconditionFailed, type FieldProblem } from '../errors.ts';
import type { ProviderModelsRepo } from '../repos/provider-models.ts';
import { UsernameTakenError, type User, type UsersRepo } from '../repos/users.ts';
import { ADMIN_ROLE, USER_ROLES } from '../roles.ts';
import { hashPassword } from '../security/credentials.ts';
import type { Lockouts } from '../security/lockouts.ts';
import type { AuditEventType, AuditTrail } from '../audit.ts';
import { changedFields, type AuditContext } from './audit-context.ts';
import { describeIfMatch, ifMatches, type Precondition } from './preconditions.ts';
import { check, fieldProblems, invalid, isPlainObject, likeLiteral, noDuplicates, page, pageQuery, parseOrThrow, searchQuery, text, type Page } from './validation.ts';

/** Users, with the admin API's rules; the admin API routes and the CLI both go through here. */

const MIN_PASSWORD_LENGTH = 8;
const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

const fields = {
  username: z.string({ error: 'must be a string' }).regex(USERNAME, 'must be 1 to 64 letters, digits or . _ @ -'),
  email: z.email({ error: 'must be an email address' }).max(254, 'must be at most 254 characters').nullable(),
  name: text(1, 100).nullable(),
  roles: z
    .array(z.enum(USER_ROLES, { error: `must be one of ${USER_ROLES.map((r) => `"${r}"`).join(', ')}` }))
    .superRefine(noDuplicates()),
  disabled: z.boolean(),
  password: z
    .string({ error: 'must be a string' })
    .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
    .max(1024, 'must be at most 1024 characters'),
};

export const createSchema = z.strictObject({
  username: fields.username,
  email: fields.email.optional(),
  name: fields.name.optional(),
  roles: fields.roles.optional(),
  disabled: fields.disabled.optional(),
  password: fields.password.optional(),
});
export const updateSchema = z.strictObject({
  email: fields.email.optional(),
  name: fields.name.optional(),
  roles: fields.roles.optional(),
  disabled: fields.disabled.optional(),
  password: fields.password.optional(),
});
export const listQuerySchema = z.strictObject({ q: searchQuery, ...pageQuery });
const SERVER_SET = ['id', 'createdAt', 'updatedAt', 'version'];

/**
 * A user as the API answers it: the stored user, dates as ISO-8601, without updatedAt; `lockedUntil`
 * while a sign-in lockout is in force (docs/security.md), else null.
 */
export type UserView = Omit<User, 'createdAt' | 'updatedAt'> & { lockedUntil: string | null; createdAt: string };

/** A user as the API shows it; the password (hash) never leaves the server. */
function serializeUser(user: User, lockedUntil?: Date): UserView {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    name: user.name,
    roles: user.roles,
    disabled: user.disabled,
    lockedUntil: lockedUntil?.toISOString() ?? null,
    createdAt: user.createdAt.toISOString(),
    version: user.version,
  };
}

function parseBody<T extends z.ZodType>(schema: T, body: unknown, mode: 'create' | 'update'): z.output<T> {
  if (!isPlainObject(body)) throw invalid([{ path: '', code: 'not-an-object', message: 'the body must be a JSON object' }]);
  const problems: FieldProblem[] = [];
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (SERVER_SET.includes(key)) problems.push({ path: key, code: 'read-only', message: 'is set by the server and cannot be written' });
    else if (key === 'username' && mode === 'update') problems.push({ path: key, code: 'fixed', message: 'cannot be changed' });
    else rest[key] = value;
  }
  const parsed = check(schema, rest);
  if (!parsed.success) problems.push(...fieldProblems(parsed.error));
  if (problems.length || !parsed.success) throw invalid(problems);
  return parsed.data;
}

const notFoundUser = (id: string) => notFound(`there is no user with id ${JSON.stringify(id)}`);
const lastAdmin = (what: string) =>
  conflict(`this is the last enabled administrator: it cannot be ${what}; make another user an administrator first`);

export interface UsersServiceDeps {
  users: UsersRepo;
  models: Pick<ProviderModelsRepo, 'revokeByAccountId'>;
  lockouts: Pick<Lockouts, 'lockedUntil' | 'reset'>;
  audit: Pick<AuditTrail, 'record'>;
}

/** A user's fields that an event shows: what the API shows, never a password or its hash. */
function auditView(user: User): Record<string, unknown> {
  const { lockedUntil: _lockedUntil, createdAt: _createdAt, version: _version, ...view } = serializeUser(user);
  return view;
}

export function createUsersService({ users, models, lockouts, audit }: UsersServiceDeps) {
  const event = (by: AuditContext, type: AuditEventType, user: Pick<User, 'id' | 'username'>, details: Record<string, unknown>) => ({
    type,
    actor: by.actor,
    target: { kind: 'user' as const, id: user.id, name: user.username },
    userId: user.id,
    address: by.address ?? null,
    outcome: 'success' as const,
    details,
  });

  /** Users as the API shows them, with the sign-in lockouts in force (one query for all of them). */
  async function views(list: User[]): Promise<UserView[]> {
    const locks = await lockouts.lockedUntil(list.map((u) => u.username));
    return list.map((u) => serializeUser(u, locks.get(u.username)));
  }
  const view = async (user: User) => (await views([user]))[0]!;

  /** The 412 for a change whose If-Match the user no longer meets, with the user as it is now (read once the refused change's transaction ended). */
  async function stale(id: string, { ifMatch }: Precondition) {
    const user = await users.findById(id);
    if (!user) throw notFoundUser(id);
    return preconditionFailed(`user ${id}`, describeIfMatch(ifMatch ?? ''), await view(user));
  }

  /**
   * The last-administrator rule, for a change in `db`'s transaction that would end `id`'s being an enabled
   * administrator: the enabled administrators' rows are locked until that transaction ends, so of two
   * concurrent changes to the last two, the second waits for the first, then reads what it committed.
   */
  async function keepAnAdmin(db: PoolClient, id: string, what: string): Promise<() => void> {
    const admins = await users.lockEnabledWithRole(ADMIN_ROLE, db);
    // Checked once the caller has locked the user's own row (after the administrators', in that order, as
    // every change takes them), so a failed If-Match is answered before this rule.
    return () => {
      if (admins.length === 1 && admins[0] === id.toLowerCase()) throw lastAdmin(what); // ids as Postgres writes them
    };
  }

  return {
    /**
     * Creates a user; usernames are unique whatever their case (409 otherwise), stored as given. Passwords
     * are stored as argon2id hashes of their NFC form.
     */
    async create(body: unknown, by: AuditContext): Promise<UserView> {
      const input = parseBody(createSchema, body, 'create');
      const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
      try {
        const user = await users.transaction(async (db) => {
          const created = await users.create({
            username: input.username,
            email: input.email ?? null,
            name: input.name ?? null,
            roles: input.roles ?? [],
            disabled: input.disabled ?? false,
            passwordHash,
          }, db);
          await audit.record(db, event(by, 'user.created', created, { after: auditView(created), passwordSet: passwordHash !== null }));
          return created;
        });
        // Failures counted against the name before it was a user (names that do not exist lock too) are not theirs.
        await lockouts.reset(user.username);
        return serializeUser(user);
      } catch (err) {
        if (err instanceof UsernameTakenError) throw conflict(err.message);
        throw err;
      }
    },

    async get(id: string): Promise<UserView> {
      const user = await users.findById(id);
      if (!user) throw notFoundUser(id);
      return view(user);
    },

    async list(query: unknown): Promise<Page<UserView>> {
      const q = parseOrThrow(listQuerySchema, query ?? {});
      const search = q.q ? { search: likeLiteral(q.q) } : {};
      const result = await page(q, ({ limit, after }) => users.list(after ? { ...search, limit, after } : { ...search, limit }), (user) => user);
      return { items: await views(result.items), nextCursor: result.nextCursor };
    },

    /** Ends a sign-in lockout and resets the failure count (an administrator's decision). */
    async unlock(id: string, by: AuditContext): Promise<UserView> {
      const user = await users.findById(id);
      if (!user) throw notFoundUser(id);
      await users.transaction(async (db) => {
        await lockouts.reset(user.username, db);
        await audit.record(db, event(by, 'user.unlocked', user, {}));
      });
      return serializeUser(user);
    },

    /**
     * Changes the fields given. Disabling a user ends their sessions, grants and tokens in the same
     * transaction, for good: enabling them again revives none of it.
     */
    async update(id: string, body: unknown, by: AuditContext, precondition: Precondition = {}): Promise<UserView> {
      if (!(await users.findById(id))) throw notFoundUser(id);
      const { password, ...changes } = parseBody(updateSchema, body, 'update');
      // Hashed before the transaction: it holds its locks for a few statements, not for an argon2id hash.
      const passwordHash = password === undefined ? undefined : await hashPassword(password);
      // What would leave an enabled administrator without the role or disabled.
      const endsAdmin = changes.disabled === true || (changes.roles !== undefined && !changes.roles.includes(ADMIN_ROLE));
      const user = await users.transaction(async (db) => {
        const keep = endsAdmin ? await keepAnAdmin(db, id, changes.disabled ? 'disabled' : 'lose the admin role') : undefined;
        const before = await users.findById(id, db, { lock: true });
        if (before && !ifMatches(precondition, before.version)) return undefined;
        keep?.();
        const updated = before && (await users.update(id, { ...changes, ...(passwordHash === undefined ? {} : { passwordHash }) }, db));
        if (!before || !updated) throw notFoundUser(id);
        if (changes.disabled === true) await models.revokeByAccountId(updated.id, db);
        await audit.record(db, event(by, 'user.updated', updated, {
          ...changedFields(auditView(before), auditView(updated)),
          ...(passwordHash === undefined ? {} : { passwordChanged: true }),
        }));
        return updated;
      });
      if (!user) throw await stale(id, precondition);
      return view(user);
    },

    /** Deletes a user; their sessions, grants and tokens go with them, in the same transaction. */
    async delete(id: string, by: AuditContext, precondition: Precondition = {}): Promise<void> {
      if (!(await users.findById(id))) throw notFoundUser(id);
      const deleted = await users.transaction(async (db) => {
        const keep = await keepAnAdmin(db, id, 'deleted');
        const before = await users.findById(id, db, { lock: true });
        if (before && !ifMatches(precondition, before.version)) return false;
        keep();
        if (!before || !(await users.delete(id, db))) throw notFoundUser(id);
        await audit.record(db, event(by, 'user.deleted', before, { before: auditView(before) }));
        // Account ids are stored as Postgres writes a uuid (lower case), whatever the case of the request's.
        await models.revokeByAccountId(id.toLowerCase(), db);
        return true;
      });
      if (!deleted) throw await stale(id, precondition);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
