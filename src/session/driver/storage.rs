//! What goes into `sessionStorage`: the [`StorageKey`]s, and the token kept
//! with `storage: 'session'`.

use super::{Driver, Effect};
use crate::options::Storage;
use crate::secret::SecretString;
use crate::session::admit;
use crate::session::machine::State;

/// The `sessionStorage` entries the driver writes; [`Driver::storage_name`]
/// names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKey {
    /// [`ANONYMOUS_ID_KEY`]: the tab's anonymous id (always kept).
    AnonymousId,
    /// `chat-auth:token:<source>`: the credential, with `storage: 'session'`
    /// only, one entry per credential source (as the channel's name), so
    /// two instances of a page that take tokens from different sources
    /// never resume from each other's token.
    Token,
}

/// `sessionStorage`'s key for the tab's anonymous id, shared by every
/// instance of the tab (the host reads it before the driver exists).
pub const ANONYMOUS_ID_KEY: &str = "chat-auth:anonymous-id";

impl Driver {
    /// Keeps the token in `sessionStorage` when `storage: 'session'`.
    pub(super) fn persist(&mut self) {
        // `destroy()` ends this instance, not the customer's session: the
        // token stays for the next instance of the tab (a remount, a
        // reload); `clearCustomer()` is what forgets it.
        if self.config.storage != Storage::Session
            || !self.storage_ok
            || self.session.state() == State::Destroyed
        {
            return;
        }
        let s = &self.session;
        let value =
            match (s.customer_id(), s.credential()) {
                // With the session's refresh token only: it may have come after
                // the access token (an answer whose access token was refused),
                // and it is gone once the endpoint refused it, while the
                // credential still holds that refused one (review finding 8).
                (Some(customer), Some(c)) => Some(SecretString::new(
                    admit::store_with_refresh_token(customer, c, s.refresh_token()),
                )),
                _ => None,
            };
        self.push(Effect::Store {
            key: StorageKey::Token,
            value,
        });
    }
}
