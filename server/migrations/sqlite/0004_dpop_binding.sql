-- DPoP (issue 18): the RFC 7638 thumbprint of the key a login session's
-- refresh tokens (and its access tokens' cnf.jkt) are bound to; NULL for a
-- session logged in without a proof (plain bearer tokens).
ALTER TABLE families ADD COLUMN jkt TEXT;
-- The DPoP proofs seen (RFC 9449 §11.1), shared by every instance: the key's
-- thumbprint and the proof's jti, kept until the proof's iat leaves the
-- window; a second presentation is a replay.
CREATE TABLE dpop_proofs (
  id TEXT PRIMARY KEY,
  until_ms BIGINT NOT NULL
);
CREATE INDEX dpop_proofs_until ON dpop_proofs (until_ms);
