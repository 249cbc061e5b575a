-- Optimistic concurrency for users, as clients have it. Forward only: never edit a migration once it has landed.
--
-- Every change to a user through the admin API or the CLI bumps version, in the change's own statement:
-- it is the user's ETag, and what an If-Match names.
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1;
