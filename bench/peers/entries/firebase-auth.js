// firebase/auth (the firebase package's modular API): initializeApp, getAuth, a provider sign-in
// (popup or redirect), onIdTokenChanged and getIdToken for the token a chat server checks.
export { initializeApp } from 'firebase/app';
export {
  GoogleAuthProvider,
  getAuth,
  getIdToken,
  getRedirectResult,
  onIdTokenChanged,
  signInWithPopup,
  signInWithRedirect,
  signOut,
} from 'firebase/auth';
