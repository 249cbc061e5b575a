-- Live rotation of signing keys. Forward only: never edit a migration once it has landed.
--
-- A signing key is published in the JWKS from the moment it is created (pending), signs from
-- activates_at (active) until the next key of its algorithm activates, then stays published, no longer
-- signing (retiring), for as long as what it signed may still be presented: the retention Keyhold
-- derives from its token and session lifetimes (src/oidc/lifetimes.ts). After that it is retired: gone
-- from the JWKS. retires_at records a key taken out sooner: by hand (`keys retire`), or a key still
-- pending when a newer rotation replaced it (it never signed anything).
--
-- alg names the algorithm without opening the sealed row; Keyhold fills it for rows sealed before this
-- migration (the migration cannot open them).
ALTER TABLE keys ADD COLUMN alg text;
UPDATE keys SET alg = material->>'alg' WHERE kind = 'signing' AND material IS NOT NULL;

-- Every key written so far signed from its creation.
ALTER TABLE keys ADD COLUMN activates_at timestamptz;
UPDATE keys SET activates_at = created_at;
ALTER TABLE keys ALTER COLUMN activates_at SET NOT NULL;
ALTER TABLE keys ALTER COLUMN activates_at SET DEFAULT now();

ALTER TABLE keys ADD COLUMN retires_at timestamptz;

-- Until now a rotation set retired_at on the keys it replaced, and the newest four of those stayed
-- published: they carry on as retiring keys (their successor activated when it was created). The older
-- ones were no longer published: they are retired as of the day they were replaced. From here on
-- retired_at is about cookie keys only.
UPDATE keys SET retires_at = retired_at
  WHERE id IN (SELECT id FROM keys WHERE kind = 'signing' AND retired_at IS NOT NULL ORDER BY created_at DESC, id OFFSET 4);
