-- Keyhold's initial schema. Forward only: never edit a migration once it has landed.

CREATE TABLE users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username       text NOT NULL,
  email          text,
  name           text,
  password_hash  text,
  roles          text[] NOT NULL DEFAULT '{}',
  disabled       boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE clients (
  id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type                       text NOT NULL CHECK (type IN ('hybrid', 'authorization-code', 'client-credentials')),
  name                       text NOT NULL,
  enabled                    boolean NOT NULL DEFAULT true,
  redirect_uris              text[] NOT NULL DEFAULT '{}',
  post_logout_redirect_uris  text[] NOT NULL DEFAULT '{}',
  allow_refresh_token        boolean NOT NULL DEFAULT false,
  access_token_lifetime      integer NOT NULL DEFAULT 3600 CHECK (access_token_lifetime BETWEEN 60 AND 3600),
  allowed_cors_origins       text[] NOT NULL DEFAULT '{}',
  roles                      text[] NOT NULL DEFAULT '{}',
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_type_created_idx ON clients (type, created_at, id);
CREATE INDEX clients_created_idx ON clients (created_at, id);

-- Only an argon2id hash of each secret is kept; the value is shown once, at creation.
CREATE TABLE client_secrets (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id     uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
  description   text NOT NULL DEFAULT '',
  secret_hash   text NOT NULL,
  expires_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);
CREATE INDEX client_secrets_client_idx ON client_secrets (client_id);

-- Every oidc-provider model instance (sessions, interactions, grants, codes, tokens...) lives here.
CREATE TABLE oidc_payloads (
  model        text NOT NULL,
  id           text NOT NULL,
  payload      jsonb NOT NULL,
  grant_id     text,
  uid          text,
  user_code    text,
  account_id   text,
  client_id    text,
  expires_at   timestamptz,
  consumed_at  timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant_idx ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid_idx ON oidc_payloads (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_user_code_idx ON oidc_payloads (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_payloads_client_idx ON oidc_payloads (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX oidc_payloads_account_idx ON oidc_payloads (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX oidc_payloads_expires_idx ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;

-- Signing keys (private JWKs) and cookie-signing keys, shared by every instance.
CREATE TABLE keys (
  id          text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('signing', 'cookie')),
  material    jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);
CREATE INDEX keys_kind_created_idx ON keys (kind, created_at DESC);
