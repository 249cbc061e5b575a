-- Nothing bearer at rest: a copied row or backup must hold nothing that works.
-- Forward only: never edit a migration once it has landed.

-- The digest Keyhold keeps instead of a bearer value: SHA-256, base64url without padding. The
-- application computes the same (src/crypto/digest.ts); this function serves migrations and seeding.
CREATE FUNCTION keyhold_digest(value text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT rtrim(translate(encode(sha256(convert_to(value, 'UTF8')), 'base64'), '+/', '-_'), '=') $$;

-- Client secrets: a SHA-256 digest of the generated value (256 random bits need no slow hash), found
-- by one indexed lookup. Secrets issued before this change keep their argon2id hash until their first
-- successful use, which replaces it with the digest.
ALTER TABLE client_secrets RENAME COLUMN secret_hash TO legacy_hash;
ALTER TABLE client_secrets ALTER COLUMN legacy_hash DROP NOT NULL;
ALTER TABLE client_secrets ADD COLUMN secret_digest text;
ALTER TABLE client_secrets ADD CONSTRAINT client_secrets_digest_or_hash
  CHECK (secret_digest IS NOT NULL OR legacy_hash IS NOT NULL);
CREATE UNIQUE INDEX client_secrets_digest_key ON client_secrets (secret_digest) WHERE secret_digest IS NOT NULL;

-- Every change to a client or its secrets bumps its version. Instances cache clients (until NOTIFY),
-- and every statement that stores or reads a token checks the cached version in the same round trip,
-- so no instance acts on a client that changed, even before the notification reaches it.
ALTER TABLE clients ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- Provider models: rows are keyed by the digest of their id (codes, tokens, session and interaction
-- ids are bearer values), and ids are unique across models, so one lookup finds a token whatever its
-- kind. The id is not kept in the payload (`jti`); an interaction's return URL and its copy of the
-- session cookie are rebuilt or dropped likewise (src/oidc/adapter.ts does the same on every write).
ALTER TABLE oidc_payloads DROP CONSTRAINT oidc_payloads_pkey;
UPDATE oidc_payloads SET
  grant_id = CASE WHEN model = 'Grant' THEN id ELSE grant_id END,
  uid = keyhold_digest(uid),
  user_code = keyhold_digest(user_code),
  payload = CASE
    WHEN model = 'Interaction' AND payload->>'returnTo' LIKE '%/' || id THEN
      jsonb_set(payload - 'jti' - 'returnTo' #- '{session,cookie}', '{returnToBase}',
        to_jsonb(left(payload->>'returnTo', length(payload->>'returnTo') - length(id))))
    WHEN model = 'Interaction' THEN payload - 'jti' #- '{session,cookie}'
    ELSE payload - 'jti'
  END,
  id = keyhold_digest(id);
ALTER TABLE oidc_payloads ADD PRIMARY KEY (id);

-- Signing and cookie keys: sealed with AES-256-GCM under a key from the environment (ENCRYPTION_KEYS).
-- The migration cannot encrypt (the key is not in the database): Keyhold seals any plaintext row on
-- its next start and clears `material`.
ALTER TABLE keys ADD COLUMN sealed text;
ALTER TABLE keys ALTER COLUMN material DROP NOT NULL;
ALTER TABLE keys ADD CONSTRAINT keys_material_or_sealed CHECK (material IS NOT NULL OR sealed IS NOT NULL);

-- Keyset pagination pages by (created_at, id) with created_at at the millisecond a cursor holds. Kept at
-- that precision from the start, the order is the indexes' own (no sort of the whole table per page).
UPDATE clients SET created_at = date_trunc('milliseconds', created_at);
ALTER TABLE clients ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', now());
UPDATE users SET created_at = date_trunc('milliseconds', created_at);
ALTER TABLE users ALTER COLUMN created_at SET DEFAULT date_trunc('milliseconds', now());
CREATE INDEX users_created_idx ON users (created_at, id);
