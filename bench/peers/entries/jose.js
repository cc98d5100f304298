// jose, the verify path: what a page imports to check a token's signature and claims with a PEM
// (SPKI or certificate), a JWK, a JWK Set or a JWKS URL (the inputs chat-auth's verifyToken takes).
export { createLocalJWKSet, createRemoteJWKSet, importJWK, importSPKI, importX509, jwtVerify } from 'jose';
