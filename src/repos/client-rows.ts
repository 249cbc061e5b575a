import type { Client, ClientSecret, ClientType, SecretCheck } from './client-types.ts';

/** How clients and their secrets are read from their tables, and turned into plain objects. */

export const CLIENT_COLUMNS = `id, type, name, enabled, redirect_uris, post_logout_redirect_uris, allow_refresh_token,
  access_token_lifetime, allowed_cors_origins, roles, version, created_at, updated_at`;
export const SECRET_COLUMNS = 'id, client_id, description, expires_at, created_at, last_used_at';

export interface ClientRow {
  id: string;
  type: ClientType;
  name: string;
  enabled: boolean;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  allow_refresh_token: boolean;
  access_token_lifetime: number;
  allowed_cors_origins: string[];
  roles: string[];
  version: string;
  created_at: Date;
  updated_at: Date;
}

export interface SecretRow {
  id: string;
  client_id: string;
  description: string;
  expires_at: Date | null;
  created_at: Date;
  last_used_at: Date | null;
}

export const toClient = (r: ClientRow): Client => ({
  id: r.id,
  type: r.type,
  name: r.name,
  enabled: r.enabled,
  redirectUris: r.redirect_uris,
  postLogoutRedirectUris: r.post_logout_redirect_uris,
  allowRefreshToken: r.allow_refresh_token,
  accessTokenLifetime: r.access_token_lifetime,
  allowedCorsOrigins: r.allowed_cors_origins,
  roles: r.roles,
  version: Number(r.version),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const toSecret = (r: SecretRow): ClientSecret => ({
  id: r.id,
  clientId: r.client_id,
  description: r.description,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

/** A secret as client authentication reads it, in a JSON array beside its client. */
export interface SecretCheckRow {
  id: string;
  digest: string | null;
  legacy_hash: string | null;
  expires_at: string | null;
}

export const toSecretCheck = (s: SecretCheckRow): SecretCheck => ({
  id: s.id,
  digest: s.digest,
  legacyHash: s.legacy_hash,
  expiresAt: s.expires_at ? new Date(s.expires_at) : null,
});
