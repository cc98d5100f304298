// @supabase/auth-js: AuthClient (signInWithOAuth / signInWithPassword, getSession with automatic
// refresh, onAuthStateChange), the auth part of supabase-js on its own.
export { AuthClient } from '@supabase/auth-js';
