import { randomBytes } from 'node:crypto';
import { digest, generateClientSecret } from '../../src/crypto/digest.ts';
import { hashSecret } from '../../src/passwords.ts';
import type { ClientsRepo, NewClient } from '../../src/repos/clients.ts';
import type { UsersRepo } from '../../src/repos/users.ts';

export const PASSWORD = 'correct horse battery staple';

export async function createUser(users: UsersRepo, overrides: { username?: string; roles?: string[]; password?: string } = {}) {
  const username = overrides.username ?? `user-${randomBytes(4).toString('hex')}`;
  const user = await users.create({
    username,
    name: 'Test User',
    email: `${username}@example.com`,
    roles: overrides.roles ?? [],
    passwordHash: await hashSecret(overrides.password ?? PASSWORD),
  });
  return { user, username, password: overrides.password ?? PASSWORD };
}

/** Inserts a client row with one secret straight into the database (no admin API involved). */
export async function createClient(clients: ClientsRepo, input: Partial<NewClient> = {}) {
  const secret = generateClientSecret();
  const { client } = await clients.create(
    {
      type: 'hybrid',
      name: 'Test app',
      redirectUris: ['https://app.example.com/callback'],
      postLogoutRedirectUris: ['https://app.example.com/signed-out'],
      ...input,
    },
    { description: 'test', digest: digest(secret), expiresAt: null },
  );
  return { client, secret };
}

export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}
