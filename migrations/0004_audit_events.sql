-- The audit trail: who did what, when, from where. Forward only: never edit a migration once it has landed.
-- Events never hold a secret, a password, a hash or a token; admin changes are written in the transaction
-- of the change itself, so neither exists without the other.
CREATE TABLE audit_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  type       text NOT NULL,
  actor      jsonb NOT NULL,
  target     jsonb,
  -- The client and the user the event is about (a change's target, a sign-in's client and user), for filtering.
  client_id  text,
  user_id    text,
  address    text,
  outcome    text NOT NULL CHECK (outcome IN ('success', 'failure')),
  details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_type_idx ON audit_events (type, id);
CREATE INDEX audit_events_client_idx ON audit_events (client_id, id) WHERE client_id IS NOT NULL;
CREATE INDEX audit_events_user_idx ON audit_events (user_id, id) WHERE user_id IS NOT NULL;
