-- The schema the server had before versioned migrations. IF NOT EXISTS:
-- a database made by that server adopts this version as it is.
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_kind TEXT NOT NULL,
  owner TEXT NOT NULL,
  author TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  client_id TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_owner ON messages (owner_kind, owner, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id
  ON messages (owner_kind, owner, client_id) WHERE client_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS families (
  id TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash BLOB PRIMARY KEY,
  family TEXT NOT NULL REFERENCES families (id),
  issued_at INTEGER NOT NULL,
  spent_at INTEGER
);
CREATE INDEX IF NOT EXISTS refresh_by_family ON refresh_tokens (family);
