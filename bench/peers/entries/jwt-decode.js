// jwt-decode: what a page imports to read a token's claims without verifying it.
export { jwtDecode } from 'jwt-decode';
