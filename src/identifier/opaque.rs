//! Minting the recommended opaque id: an HMAC-SHA256 of the site's own
//! user id, natively.

use super::invalid;
use crate::error::{Error, ErrorCode, Result};

/// The shortest secret [`opaque_customer_id`] accepts, in bytes (256 bits, the
/// output size of SHA-256, as RFC 2104 recommends).
#[cfg(not(target_arch = "wasm32"))]
pub const MIN_SECRET_BYTES: usize = 32;

/// Mints the recommended opaque customer id: HMAC-SHA256 of `user_id` (its
/// UTF-8 bytes, exactly as given) keyed by `secret`, as unpadded base64url
/// (43 characters). Native builds only: the secret belongs on the server and
/// must never reach a browser.
///
/// The result is stable for one secret and user id, differs between users and
/// between secrets, cannot be traced back without the secret, and always
/// passes [`check_customer_id`](super::check_customer_id). Pass the site's
/// canonical, immutable user id (not an e-mail address that may change):
/// `"Jane"` and `"jane"` give different ids.
///
/// Errors: `invalid_config` when `secret` is shorter than [`MIN_SECRET_BYTES`]
/// (32 bytes); `customer_id_invalid` when `user_id` is empty, since all users
/// without an id would otherwise share one customer and its history.
///
/// ```
/// use chat_auth::identifier::{check_customer_id, opaque_customer_id};
///
/// let secret = [7u8; 32]; // load from your secret store
/// let id = opaque_customer_id(&secret, "user-1042").unwrap();
/// assert_eq!(id.len(), 43);
/// assert!(check_customer_id(&id).is_ok());
/// assert_eq!(id, opaque_customer_id(&secret, "user-1042").unwrap());
/// assert!(opaque_customer_id(b"too short", "user-1042").is_err());
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub fn opaque_customer_id(secret: &[u8], user_id: &str) -> Result<String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(Error::new(
            ErrorCode::InvalidConfig,
            "opaque_customer_id: the secret must be at least 32 bytes",
        ));
    }
    if user_id.is_empty() {
        return Err(invalid("opaque_customer_id: the user id is empty"));
    }
    let mac = hmac_sha256(secret, user_id.as_bytes())?;
    Ok(crate::wire::base64url::encode(&mac))
}

/// Raw HMAC-SHA256, without the secret-length policy (for test vectors).
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    // HMAC takes keys of any length; the error arm exists only in the type.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| {
        Error::new(
            ErrorCode::InvalidConfig,
            "opaque_customer_id: unusable secret",
        )
    })?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}
