/**
 * The keyhold CLI: `npm run keyhold -- <command>`. It works on the database directly (the embedded
 * one under DATA_DIR, shared with a running server, or DATABASE_URL), so it can bootstrap a fresh
 * install. Every command takes --json and exits non-zero with a one-line message on error.
 */
import { ConfigError, loadConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { EmbeddedAccessError } from './db/embedded-access.ts';
import { loadKeyring } from './encryption-keys.ts';
import { ProblemError } from './errors.ts';
import { CliError, parse, type Command, type CommandContext } from './cli-command.ts';
import { keysCommands } from './cli-keys.ts';

export { CliError };
import { createLogger } from './logger.ts';
import { CLIENT_TYPES, createClientsRepo, type ClientType } from './repos/clients.ts';
import { createProviderModelsRepo } from './repos/provider-models.ts';
import { createUsersRepo } from './repos/users.ts';
import { createLockouts } from './security/lockouts.ts';
import { createAuditTrail } from './audit.ts';
import { CLI } from './services/audit-context.ts';
import { createClientsService, type ClientView } from './services/clients.ts';
import { createUsersService } from './services/users.ts';
import { ADMIN_ROLE, CLIENT_ROLES } from './roles.ts';

const print = (ctx: CommandContext, value: unknown, human: string) => ctx.out(ctx.json ? JSON.stringify(value, null, 2) : human);

/** The audit trail of CLI commands: every change they make is recorded in its transaction, as the admin API's are. */
const auditOf = (ctx: CommandContext, db: Database) => createAuditTrail(db.pool, { retentionDays: ctx.config.audit.retentionDays });

const usersService = (ctx: CommandContext, db: Database) =>
  createUsersService({
    users: createUsersRepo(db.pool),
    models: createProviderModelsRepo(db.pool),
    lockouts: createLockouts(db.pool, ctx.config.lockout),
    audit: auditOf(ctx, db),
  });

const clientsService = (ctx: CommandContext, db: Database) =>
  createClientsService({ clients: createClientsRepo(db.pool), models: createProviderModelsRepo(db.pool), audit: auditOf(ctx, db) });

const CLIENT_FLAGS: Record<string, string> = {
  type: '--type',
  name: '--name',
  redirectUris: '--redirect-uri',
  postLogoutRedirectUris: '--post-logout-redirect-uri',
  allowRefreshToken: '--allow-refresh-token',
  accessTokenLifetime: '--access-token-lifetime',
  roles: '--role',
  'secret.description': '--secret-description',
  'secret.expiresAt': '--secret-expires-at',
  'secret.neverExpires': '--secret-never-expires',
};
const USER_FLAGS: Record<string, string> = { username: '--username', email: '--email', name: '--name', password: 'the password' };

/** Turns the service's problem (the admin API's 400/404/409) into one line naming the flags. */
function explain(flags: Record<string, string>) {
  return (err: unknown): never => {
    if (!(err instanceof ProblemError)) throw err;
    if (!err.errors?.length) throw new CliError(err.message);
    const flag = (path: string) => flags[path] ?? flags[path.replace(/\.\d+$/, '')] ?? path;
    throw new CliError(err.errors.map((e) => `${flag(e.path)}: ${e.message}`).join('; '));
  };
}

export const commands: Record<string, Command> = {
  migrate: {
    usage: 'migrate',
    async run(ctx) {
      parse(ctx.args, {});
      const db = await ctx.db(); // opening the database applies pending migrations
      const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY id');
      print(ctx, { applied: rows.map((r) => r.name) }, `database is up to date (${rows.length} migrations: ${rows.map((r) => r.name).join(', ')})`);
    },
  },

  'users create': {
    usage: 'users create --username U [--email E] [--name N] [--admin] [--password-stdin]',
    async run(ctx) {
      const { values } = parse(ctx.args, {
        username: { type: 'string' },
        email: { type: 'string' },
        name: { type: 'string' },
        admin: { type: 'boolean' },
        'password-stdin': { type: 'boolean' },
      });
      if (!values.username) throw new CliError('--username is required');
      let password: string | undefined;
      if (values['password-stdin']) password = (await ctx.readStdin()).replace(/\r?\n$/, '');
      const db = await ctx.db();
      const user = await usersService(ctx, db).create({
        username: values.username,
        ...(values.email !== undefined ? { email: values.email } : {}),
        ...(values.name !== undefined ? { name: values.name } : {}),
        roles: values.admin ? [ADMIN_ROLE] : [],
        ...(password !== undefined ? { password } : {}),
      }, CLI).catch(explain(USER_FLAGS));
      print(ctx, user, `created user ${user.username} (${user.id})${password ? '' : '; it has no password yet and cannot sign in'}`);
    },
  },

  'users unlock': {
    usage: 'users unlock ID',
    async run(ctx) {
      const { positionals } = parse(ctx.args, {}, true);
      if (positionals.length !== 1) throw new CliError('give the id of one user: users unlock ID');
      const user = await usersService(ctx, await ctx.db()).unlock(positionals[0]!, CLI).catch(explain({}));
      print(ctx, user, `unlocked user ${user.username} (${user.id}): the sign-in failure count starts again`);
    },
  },

  'clients create': {
    usage:
      'clients create --type hybrid|authorization-code|client-credentials --name N [--redirect-uri U]... [--post-logout-redirect-uri U]... ' +
      `[--allow-refresh-token] [--access-token-lifetime S] [--role ${CLIENT_ROLES.join('|')}] ` +
      '[--secret-description D] [--secret-expires-at ISO-8601 | --secret-never-expires]',
    async run(ctx) {
      const { values } = parse(ctx.args, {
        type: { type: 'string' },
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        'allow-refresh-token': { type: 'boolean' },
        'access-token-lifetime': { type: 'string' },
        role: { type: 'string', multiple: true },
        'secret-description': { type: 'string' },
        'secret-expires-at': { type: 'string' },
        'secret-never-expires': { type: 'boolean' },
      });
      if (!values.type) throw new CliError(`--type is required: one of ${CLIENT_TYPES.join(', ')}`);
      if (values.name === undefined) throw new CliError('--name is required');
      const lifetime = values['access-token-lifetime'];
      if (lifetime !== undefined && !/^[0-9]+$/.test(lifetime)) throw new CliError('--access-token-lifetime must be a whole number of seconds from 60 to 3600');
      const secret = {
        ...(values['secret-description'] !== undefined ? { description: values['secret-description'] } : {}),
        ...(values['secret-expires-at'] !== undefined ? { expiresAt: values['secret-expires-at'] } : {}),
        ...(values['secret-never-expires'] ? { neverExpires: true } : {}),
      };
      // The same body POST /api/v1/clients takes: the service applies the same rules to both.
      const body = {
        type: values.type,
        name: values.name,
        ...(values['redirect-uri'] ? { redirectUris: values['redirect-uri'] } : {}),
        ...(values['post-logout-redirect-uri'] ? { postLogoutRedirectUris: values['post-logout-redirect-uri'] } : {}),
        ...(values['allow-refresh-token'] ? { allowRefreshToken: true } : {}),
        ...(lifetime !== undefined ? { accessTokenLifetime: Number(lifetime) } : {}),
        ...(values.role ? { roles: values.role } : {}),
        ...(Object.keys(secret).length ? { secret } : {}),
      };
      const db = await ctx.db();
      const created = await clientsService(ctx, db).create(body, CLI).catch(explain(CLIENT_FLAGS));
      const lines = [`created ${created.client.type} client ${JSON.stringify(created.client.name)}`, `client id:     ${created.client.id}`];
      if (created.secret) {
        lines.push(`client secret: ${created.secret.value}`);
        lines.push(`               (shown this once: store it now, it cannot be retrieved later; ${created.secret.expiresAt ? `it expires ${created.secret.expiresAt}` : 'it never expires'})`);
      }
      print(ctx, created, lines.join('\n'));
    },
  },

  'clients list': {
    usage: 'clients list [--type T]',
    async run(ctx) {
      const { values } = parse(ctx.args, { type: { type: 'string' } });
      const db = await ctx.db();
      const service = clientsService(ctx, db);
      const items: ClientView[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: ClientView[]; nextCursor: string | null } = await service
          .list({ ...(values.type !== undefined ? { type: values.type as ClientType } : {}), limit: '100', ...(cursor ? { cursor } : {}) })
          .catch(explain({ type: '--type' }));
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      const human = items.length
        ? items.map((c) => `${c.id}  ${c.type.padEnd(18)}  ${c.enabled ? 'enabled ' : 'disabled'}  ${c.name}`).join('\n')
        : 'no clients';
      print(ctx, { items, nextCursor: null }, human);
    },
  },

  'clients delete': {
    usage: 'clients delete ID',
    async run(ctx) {
      const { positionals } = parse(ctx.args, {}, true);
      if (positionals.length !== 1) throw new CliError('give exactly one client id');
      const id = positionals[0]!;
      const db = await ctx.db();
      await clientsService(ctx, db).delete(id, CLI).catch(explain({}));
      print(ctx, { id, deleted: true }, `deleted client ${id}; its tokens no longer work`);
    },
  },

  ...keysCommands,
};

function usage(): string {
  return `usage: npm run keyhold -- <command> [--json]\n\ncommands:\n${Object.values(commands).map((c) => `  ${c.usage}`).join('\n')}`;
}

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const name = [argv.slice(0, 2).join(' '), argv[0]].find((n) => n && n in commands);
  if (!name || argv.includes('--help')) {
    process.stderr.write(`${usage()}\n`);
    return name || argv.includes('--help') ? 0 : 2;
  }
  const args = argv.slice(name.split(' ').length);
  let db: Database | undefined;
  try {
    const config = loadConfig(env);
    // Logs go to stderr: stdout is the command's answer (one JSON document under --json).
    const logger = createLogger(env.LOG_LEVEL ? config.logLevel : 'warn', 2);
    await commands[name]!.run({
      args,
      config,
      json: args.includes('--json'),
      db: async () => (db ??= await openDatabase(config, logger)),
      keyring: () => loadKeyring(config),
      out: (text) => process.stdout.write(`${text}\n`),
      readStdin: async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      },
    });
    return 0;
  } catch (err) {
    if (err instanceof CliError) process.stderr.write(`keyhold ${name}: ${err.message}\n`);
    else if (err instanceof EmbeddedAccessError) process.stderr.write(`keyhold: ${err.message}\n`);
    else if (err instanceof ConfigError) process.stderr.write(`keyhold: invalid configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
    else process.stderr.write(`keyhold ${name}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db?.close();
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2), process.env);
