import type { PoolClient } from '../db/pool.ts';
import { CLIENT_COLUMNS, SECRET_COLUMNS, toClient, toSecret, type ClientRow, type SecretRow } from './client-rows.ts';
import {
  CLIENT_CHANGES_CHANNEL,
  MAX_SECRETS_PER_CLIENT,
  TooManySecretsError,
  type Client,
  type ClientChanges,
  type ClientSecret,
  type NewClient,
  type NewSecret,
} from './client-types.ts';

/** The statements that change a client or its secrets, each on a transaction's connection. */

/**
 * Every change to a client or its secrets, in the transaction that makes it, bumps the client's version
 * (so a cached copy fails its check at the next token write or read, see provider-models.ts; a secret's
 * upgrade to a digest changes nothing an instance acts on and keeps it) and, here, tells every instance
 * to drop its copy.
 */
export async function announce(db: PoolClient, clientId: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [CLIENT_CHANGES_CHANNEL, clientId]);
}

/** Bumps the version of a secret's client; the row lock also serialises changes to its secrets. */
async function bumpVersion(db: PoolClient, clientId: string): Promise<void> {
  await db.query('UPDATE clients SET version = version + 1 WHERE id = $1', [clientId]);
}

/** Changes a client on `db` (inside a transaction), announcing it there; undefined when there is none. */
export async function updateOn(db: PoolClient, id: string, changes: ClientChanges): Promise<Client | undefined> {
  const columns: Array<[string, unknown]> = [];
  if (changes.name !== undefined) columns.push(['name', changes.name]);
  if (changes.enabled !== undefined) columns.push(['enabled', changes.enabled]);
  if (changes.redirectUris !== undefined) columns.push(['redirect_uris', changes.redirectUris]);
  if (changes.postLogoutRedirectUris !== undefined) columns.push(['post_logout_redirect_uris', changes.postLogoutRedirectUris]);
  if (changes.allowRefreshToken !== undefined) columns.push(['allow_refresh_token', changes.allowRefreshToken]);
  if (changes.accessTokenLifetime !== undefined) columns.push(['access_token_lifetime', changes.accessTokenLifetime]);
  if (changes.allowedCorsOrigins !== undefined) columns.push(['allowed_cors_origins', changes.allowedCorsOrigins]);
  if (changes.roles !== undefined) columns.push(['roles', changes.roles]);
  const sets = columns.map(([column], i) => `${column} = $${i + 2}`);
  const { rows } = await db.query<ClientRow>(
    `UPDATE clients SET ${[...sets, 'updated_at = now()', 'version = version + 1'].join(', ')} WHERE id = $1 RETURNING ${CLIENT_COLUMNS}`,
    [id, ...columns.map(([, value]) => value)],
  );
  if (!rows[0]) return undefined;
  // A client that stops allowing refresh tokens ends the ones it holds, in the same transaction:
  // turning the setting back on later does not revive them.
  if (changes.allowRefreshToken === false) {
    await db.query("DELETE FROM oidc_payloads WHERE model = 'RefreshToken' AND client_id = $1", [id]);
  }
  await announce(db, id);
  return toClient(rows[0]);
}

/** Deletes a client (and, by cascade, its secrets) on `db`, announcing it there; false when there is none. */
export async function deleteOn(db: PoolClient, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM clients WHERE id = $1', [id]);
  if (rowCount !== 1) return false;
  await announce(db, id);
  return true;
}

async function insertSecret(db: PoolClient, clientId: string, secret: NewSecret): Promise<ClientSecret> {
  // Locks the client row, so two concurrent additions cannot both pass the count check.
  await bumpVersion(db, clientId);
  const { rows: count } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM client_secrets WHERE client_id = $1',
    [clientId],
  );
  if ((count[0]?.n ?? 0) >= MAX_SECRETS_PER_CLIENT) throw new TooManySecretsError(MAX_SECRETS_PER_CLIENT);
  const { rows } = await db.query<SecretRow>(
    `INSERT INTO client_secrets (client_id, description, secret_digest, expires_at)
     VALUES ($1, $2, $3, $4) RETURNING ${SECRET_COLUMNS}`,
    [clientId, secret.description, secret.digest, secret.expiresAt],
  );
  return toSecret(rows[0]!);
}

export async function createOn(db: PoolClient, input: NewClient, firstSecret?: NewSecret): Promise<{ client: Client; secret?: ClientSecret }> {
  const { rows } = await db.query<ClientRow>(
    `INSERT INTO clients (type, name, enabled, redirect_uris, post_logout_redirect_uris, allow_refresh_token,
       access_token_lifetime, allowed_cors_origins, roles)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${CLIENT_COLUMNS}`,
    [
      input.type,
      input.name,
      input.enabled ?? true,
      input.redirectUris ?? [],
      input.postLogoutRedirectUris ?? [],
      input.allowRefreshToken ?? false,
      input.accessTokenLifetime ?? 3600,
      input.allowedCorsOrigins ?? [],
      input.roles ?? [],
    ],
  );
  let client = toClient(rows[0]!);
  const secret = firstSecret ? await insertSecret(db, client.id, firstSecret) : undefined;
  // The first secret bumped the version the insert returned.
  if (secret) client = { ...client, version: client.version + 1 };
  await announce(db, client.id);
  return secret ? { client, secret } : { client };
}

export async function addSecretOn(db: PoolClient, clientId: string, secret: NewSecret): Promise<ClientSecret> {
  const stored = await insertSecret(db, clientId, secret);
  await announce(db, clientId);
  return stored;
}

export async function deleteSecretOn(db: PoolClient, clientId: string, secretId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM client_secrets WHERE client_id = $1 AND id = $2', [clientId, secretId]);
  if (rowCount !== 1) return false;
  await bumpVersion(db, clientId);
  await announce(db, clientId);
  return true;
}
