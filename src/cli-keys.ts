/**
 * The `keys` commands of the keyhold CLI (cli.ts): list, rotate, retire. They change the signing keys
 * in the database and announce it; running instances publish, sign with and drop keys accordingly
 * within seconds (oidc/live-keys.ts), without a restart.
 */
import { parse, type Command, type CommandContext } from './cli-command.ts';
import { auditKeyEvents, createAuditTrail } from './audit.ts';
import { createKeysRepo, type SigningKeyInfo } from './repos/keys.ts';

/** Every rotation and retirement made here is in the audit trail, with the CLI as its actor. */
const repo = async (ctx: CommandContext) => {
  const { pool } = await ctx.db();
  return createKeysRepo(pool, await ctx.keyring(), auditKeyEvents(createAuditTrail(pool, { retentionDays: ctx.config.audit.retentionDays }), { kind: 'cli' }));
};

/** ISO 8601 to the second. */
const time = (date: Date | null) => (date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');
const named = (keys: readonly SigningKeyInfo[]) => keys.map((k) => `${k.alg} ${k.kid}`).join(', ');
const view = (k: SigningKeyInfo) => ({ kid: k.kid, alg: k.alg, state: k.state, createdAt: k.createdAt, activatesAt: k.activatesAt, retiresAt: k.retiresAt });

function table(keys: readonly SigningKeyInfo[]): string {
  const rows = [['KID', 'ALG', 'STATE', 'CREATED', 'ACTIVATES', 'RETIRES'], ...keys.map((k) => [k.kid, k.alg, k.state, time(k.createdAt), time(k.activatesAt), time(k.retiresAt)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

export const keysCommands: Record<string, Command> = {
  'keys list': {
    usage: 'keys list',
    async run(ctx) {
      parse(ctx.args, {});
      const keys = await (await repo(ctx)).list();
      ctx.out(ctx.json ? JSON.stringify({ items: keys.map(view) }, null, 2) : keys.length ? table(keys) : 'no signing keys');
    },
  },

  'keys rotate': {
    usage: 'keys rotate [--now]',
    async run(ctx) {
      const { values } = parse(ctx.args, { now: { type: 'boolean' } });
      const activationDelay = values.now ? 0 : ctx.config.keyActivationDelay;
      const rotation = await (await repo(ctx)).rotate({ activationDelay });
      if (ctx.json) {
        ctx.out(JSON.stringify({ keys: rotation.keys.map(view), replaced: rotation.replaced.map(view), dropped: rotation.dropped.map(view) }, null, 2));
        return;
      }
      const lines = [
        activationDelay === 0
          ? `new signing keys ${named(rotation.keys)}: signing now on every running instance`
          : `new signing keys ${named(rotation.keys)}: published now by every running instance, signing from ${time(rotation.keys[0]!.activatesAt)} (KEY_ACTIVATION_DELAY=${activationDelay})`,
      ];
      if (rotation.replaced.length) {
        lines.push(`the keys they replace (${named(rotation.replaced)}) sign until then and stay published until ${time(rotation.replaced[0]!.retiresAt)}`);
      }
      if (rotation.dropped.length) lines.push(`the pending keys ${named(rotation.dropped)} were replaced before they signed and are retired`);
      if (activationDelay === 0 && rotation.replaced.length) lines.push('to withdraw a compromised key at once: keys retire KID');
      ctx.out(lines.join('\n'));
    },
  },

  'keys retire': {
    usage: 'keys retire KID',
    async run(ctx) {
      const { positionals } = parse(ctx.args, {}, true);
      if (positionals.length !== 1) throw new Error('give exactly one key id (keys list shows them)');
      const key = await (await repo(ctx)).retire(positionals[0]!);
      ctx.out(ctx.json ? JSON.stringify(view(key), null, 2) : `retired the ${key.alg} key ${key.kid}: every running instance stops publishing and accepting it within seconds`);
    },
  },
};
