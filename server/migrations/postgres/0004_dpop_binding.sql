-- DPoP (issue 18): the RFC 7638 thumbprint of the key a login session's
-- refresh tokens (and its access tokens' cnf.jkt) are bound to; NULL for a
-- session logged in without a proof (plain bearer tokens).
ALTER TABLE families ADD COLUMN jkt TEXT;
