-- The front door: shared counters for rate limits and sign-in lockouts.
-- Forward only: never edit a migration once it has landed.

-- One row per limited thing (e.g. sign-in posts from one address), counted over a fixed one-minute
-- window. Every instance counts here, so adding instances does not multiply an allowance.
CREATE TABLE rate_limits (
  bucket        text PRIMARY KEY,
  window_start  timestamptz NOT NULL,
  hits          integer NOT NULL
);
CREATE INDEX rate_limits_window_idx ON rate_limits (window_start);

-- Consecutive failed sign-ins per username, known or not (so a lock says nothing about who exists),
-- filed under the digest of the lower-cased name: people type passwords into the username field.
CREATE TABLE signin_failures (
  username_digest  text PRIMARY KEY,
  failures         integer NOT NULL,
  locked_until     timestamptz,
  last_failure_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signin_failures_last_idx ON signin_failures (last_failure_at);

-- With REFRESH_TOKEN_REUSE_GRACE, the answer a refresh token's rotation gave, kept for the grace period
-- so that the same token presented once more (the answer was lost on the way) gets the same answer.
-- Filed under the digest of the rotated token and sealed (AES-256-GCM) under a key derived from the
-- token itself: only whoever presents that token can open it; a copied row is worth nothing.
CREATE TABLE refresh_token_replays (
  token_digest  text PRIMARY KEY,
  answer        text NOT NULL,
  expires_at    timestamptz NOT NULL
);
CREATE INDEX refresh_token_replays_expires_idx ON refresh_token_replays (expires_at);
