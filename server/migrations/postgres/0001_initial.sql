-- Times are milliseconds since the epoch (BIGINT), as in the SQLite schema.
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value BYTEA NOT NULL
);
CREATE TABLE messages (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_kind TEXT NOT NULL,
  owner TEXT NOT NULL,
  author TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  client_id TEXT
);
CREATE INDEX messages_by_owner ON messages (owner_kind, owner, created_at, id);
-- A retried send (same clientId) is stored once per conversation.
CREATE UNIQUE INDEX messages_client_id
  ON messages (owner_kind, owner, client_id) WHERE client_id IS NOT NULL;
CREATE TABLE families (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE TABLE refresh_tokens (
  hash BYTEA PRIMARY KEY,
  family TEXT NOT NULL REFERENCES families (id),
  issued_at BIGINT NOT NULL,
  spent_at BIGINT
);
CREATE INDEX refresh_by_family ON refresh_tokens (family);
