/** What every command of the keyhold CLI gets and gives (cli.ts, cli-keys.ts). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from './config.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { Database } from './db/database.ts';

/** A usage or input error: printed as one line, `keyhold <command>: <message>`, exit code 1. */
export class CliError extends Error {}

export interface CommandContext {
  args: string[];
  config: Config;
  json: boolean;
  db: () => Promise<Database>;
  /** The keyring that seals signing and cookie keys. */
  keyring: () => Promise<Keyring>;
  out: (text: string) => void;
  readStdin: () => Promise<string>;
}

export interface Command {
  usage: string;
  run(ctx: CommandContext): Promise<void>;
}

/** The command's options (and `--json`, which every command takes), strictly: an unknown option is a CliError. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options: { ...options, json: { type: 'boolean' } }, allowPositionals, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}
