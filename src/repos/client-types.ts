import type { PoolClient } from '../db/pool.ts';
import { CLIENT_TYPES } from '../rules/client-rules.js';

/** The clients repository's (clients.ts) values: clients and their secrets, what changes them, its options. */

export { CLIENT_TYPES };
export type ClientType = (typeof CLIENT_TYPES)[number];

export interface Client {
  id: string;
  type: ClientType;
  name: string;
  enabled: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  allowRefreshToken: boolean;
  accessTokenLifetime: number;
  allowedCorsOrigins: string[];
  roles: string[];
  /** Bumped by every change to the client or its secrets, in the change's own statement. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ClientSecret {
  id: string;
  clientId: string;
  description: string;
  expiresAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** What client authentication needs of a secret; never leaves the server. */
export interface SecretCheck {
  id: string;
  /** SHA-256 digest (base64url) of the value; null for a secret issued before digests, not yet used since. */
  digest: string | null;
  /** argon2id hash of a secret issued before digests; null once it was used and now has a digest. */
  legacyHash: string | null;
  expiresAt: Date | null;
}

export interface NewClient {
  type: ClientType;
  name: string;
  enabled?: boolean;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  allowRefreshToken?: boolean;
  accessTokenLifetime?: number;
  allowedCorsOrigins?: string[];
  roles?: string[];
}

export type ClientChanges = Partial<Omit<NewClient, 'type'>>;

export interface NewSecret {
  description: string;
  /** SHA-256 digest of the generated value (see crypto/digest.ts); the value itself is never stored. */
  digest: string;
  expiresAt: Date | null;
}

/** Raised when a client already holds the maximum number of secrets. */
export class TooManySecretsError extends Error {
  readonly max: number;
  constructor(max: number) {
    super(`a client holds at most ${max} secrets`);
    this.max = max;
    this.name = 'TooManySecretsError';
  }
}

export const MAX_SECRETS_PER_CLIENT = 10;

/** Channel on which every change to a client or its secrets is announced to all instances. */
export const CLIENT_CHANGES_CHANNEL = 'keyhold_client_changes';

export interface ClientsRepoOptions {
  /**
   * Called once a change to a client has committed, in this process: the instance that made the change
   * drops its cached copy at once, while other instances hear of it through NOTIFY.
   */
  onChange?: (clientId: string) => void;
}

/** What `transaction` hands out: the repository's changes, made on one connection. */
export interface ClientsTransaction {
  /** The transaction's connection: other repositories' statements on it commit or roll back with the changes. */
  db: PoolClient;
  /** The client as it is now, its row locked until the transaction ends (the "before" of a change). */
  lock(id: string): Promise<Client | undefined>;
  create(input: NewClient, firstSecret?: NewSecret): Promise<{ client: Client; secret?: ClientSecret }>;
  update(id: string, changes: ClientChanges): Promise<Client | undefined>;
  delete(id: string): Promise<boolean>;
  addSecret(clientId: string, secret: NewSecret): Promise<ClientSecret>;
  deleteSecret(clientId: string, secretId: string): Promise<boolean>;
}

export interface ClientListOptions {
  type?: ClientType;
  /** A LIKE pattern, its wildcards escaped: clients whose name holds it (whatever the case), or whose id starts with it. */
  search?: string;
  limit?: number;
  after?: { createdAt: Date; id: string };
}
