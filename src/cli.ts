/**
 * The keyhold CLI: `npm run keyhold -- <command>`. It works on the database directly (the embedded
 * one under DATA_DIR, shared with a running server, or DATABASE_URL), so it can bootstrap a fresh
 * install. Every command takes --json and exits non-zero with a one-line message on error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { createLogger } from './logger.ts';
import { hashSecret } from './passwords.ts';
import { createKeysRepo } from './repos/keys.ts';
import { createUsersRepo, UsernameTakenError } from './repos/users.ts';

export class CliError extends Error {}

interface CommandContext {
  args: string[];
  json: boolean;
  db: () => Promise<Database>;
  out: (text: string) => void;
  readStdin: () => Promise<string>;
}

interface Command {
  usage: string;
  run(ctx: CommandContext): Promise<void>;
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options: { ...options, json: { type: 'boolean' } }, allowPositionals, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

const print = (ctx: CommandContext, value: unknown, human: string) => ctx.out(ctx.json ? JSON.stringify(value, null, 2) : human);

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
      if (!/^[A-Za-z0-9._@-]{1,64}$/.test(values.username)) throw new CliError('--username must be 1 to 64 letters, digits or . _ @ -');
      let password: string | undefined;
      if (values['password-stdin']) {
        password = (await ctx.readStdin()).replace(/\r?\n$/, '');
        if (password.length < 8) throw new CliError('the password read from standard input must be at least 8 characters');
      }
      const db = await ctx.db();
      const users = createUsersRepo(db.pool);
      try {
        const user = await users.create({
          username: values.username,
          email: values.email ?? null,
          name: values.name ?? null,
          roles: values.admin ? ['admin'] : [],
          passwordHash: password ? await hashSecret(password) : null,
        });
        print(ctx, user, `created user ${user.username} (${user.id})${password ? '' : '; it has no password yet and cannot sign in'}`);
      } catch (err) {
        if (err instanceof UsernameTakenError) throw new CliError(err.message);
        throw err;
      }
    },
  },

  'keys rotate': {
    usage: 'keys rotate',
    async run(ctx) {
      parse(ctx.args, {});
      const db = await ctx.db();
      const keys = await createKeysRepo(db.pool).rotateSigningKeys();
      const summary = keys.map((k) => ({ kid: k.kid, alg: k.alg }));
      print(ctx, { keys: summary }, `new signing keys ${summary.map((k) => `${k.alg} ${k.kid}`).join(', ')}; restart Keyhold instances to sign with them`);
    },
  },
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
    const logger = createLogger(env.LOG_LEVEL ? config.logLevel : 'warn');
    await commands[name]!.run({
      args,
      json: args.includes('--json'),
      db: async () => (db ??= await openDatabase(config, logger)),
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
    else if (err instanceof ConfigError) process.stderr.write(`keyhold: invalid configuration:\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
    else process.stderr.write(`keyhold ${name}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await db?.close();
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2), process.env);
