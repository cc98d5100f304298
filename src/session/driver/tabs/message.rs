//! The channel's messages: reading one ([`Message`]) and writing `token`,
//! `refresh`, `have` and `logout`, each with the sender's newest refresh
//! token.

use crate::secret::SecretString;
use crate::session::admit;
use crate::session::machine::{Credential, Session};
use crate::time::Millis;
use crate::wire::json::{self, Object, Value};

/// A message read from the channel.
#[derive(Debug)]
pub struct Message {
    /// `want`, `have`, `token`, `refresh` or `logout`.
    pub kind: String,
    /// The customer it is about.
    pub customer_id: Option<String>,
    body: Object,
    /// `have`: the asking tab.
    pub to: Option<String>,
    /// `want` / `have`: the round.
    pub nonce: Option<f64>,
}

impl Message {
    /// Reads a message's JSON text; `None` for anything else.
    pub fn read(text: &str) -> Option<Message> {
        let body = json::parse_object(text.as_bytes()).ok()?;
        let kind = body.get_str("type")?.to_owned();
        let customer_id = body.get_str("customerId").map(str::to_owned);
        let to = body.get_str("to").map(str::to_owned);
        let nonce = body.get("nonce").and_then(Value::as_f64);
        Some(Message {
            kind,
            customer_id,
            body,
            to,
            nonce,
        })
    }

    /// The refresh token it shares and when it arrived, if it is for
    /// `customer`.
    pub fn refresh_token(&self, customer: Option<&str>) -> Option<(SecretString, Millis)> {
        if customer.is_none() || self.customer_id.as_deref() != customer {
            return None;
        }
        let token = self
            .body
            .get_str("refreshToken")
            .filter(|t| !t.is_empty())?;
        let at = self
            .body
            .get("refreshTokenAt")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite())?;
        Some((SecretString::new(token), at as Millis))
    }

    /// The refresh token it says is spent (refused, or presented by a grant
    /// whose answer never came), if it is for `customer`: not presented
    /// again here either.
    pub fn spent_refresh_token(&self, customer: Option<&str>) -> Option<SecretString> {
        if customer.is_none() || self.customer_id.as_deref() != customer {
            return None;
        }
        let token = self
            .body
            .get_str("spentRefreshToken")
            .filter(|t| !t.is_empty())?;
        Some(SecretString::new(token))
    }

    /// The credential of a `token` or `have`, if it is for `customer`.
    pub fn offer(&self, customer: &str) -> Option<Credential> {
        admit::restore(self.body.get_str("credential")?, customer)
    }

    /// `want` / `have`: the sending tab.
    pub fn from(&self) -> Option<&str> {
        self.body.get_str("from")
    }
}

pub(super) fn start(kind: &str) -> String {
    let mut s = String::from("{\"type\":");
    json::write_string(&mut s, kind);
    s
}

pub(super) fn field(s: &mut String, name: &str, value: &str) {
    s.push(',');
    json::write_string(s, name);
    s.push(':');
    json::write_string(s, value);
}

pub(super) fn number(s: &mut String, name: &str, value: i64) {
    s.push(',');
    json::write_string(s, name);
    s.push(':');
    json::write_int(s, value);
}

pub(super) fn end(mut s: String) -> String {
    s.push('}');
    s
}

/// The session's newest refresh token and when it arrived, and the last
/// one it knows to be spent (the other tabs may hold it still).
fn add_refresh_token(s: &mut String, session: &Session) {
    if let (Some(token), Some(at)) = (session.refresh_token(), session.refresh_token_at()) {
        field(s, "refreshToken", token.secret());
        number(s, "refreshTokenAt", at);
    }
    if let Some(spent) = session.last_spent_refresh_token() {
        field(s, "spentRefreshToken", spent.secret());
    }
}

/// The body of a `have` without a token to offer: the session's refresh
/// tokens (newest, last spent) for the asker, `None` without a customer.
pub fn refresh_fields(session: &Session) -> Option<String> {
    let customer = session.customer_id()?;
    let mut s = String::new();
    field(&mut s, "customerId", customer);
    add_refresh_token(&mut s, session);
    Some(s)
}

/// The body of a `token` / `have` with `credential` for the session's
/// customer (without the opening `{"type":…`), `None` without a customer.
pub fn token_fields(session: &Session, credential: &Credential) -> Option<String> {
    let customer = session.customer_id()?;
    let mut s = String::new();
    // The session's refresh token, not the credential's own: a refused one
    // is forgotten by the session but still inside the credential.
    let stored = admit::store_with_refresh_token(customer, credential, session.refresh_token());
    field(&mut s, "credential", &stored);
    field(&mut s, "customerId", customer);
    add_refresh_token(&mut s, session);
    Some(s)
}

/// A `token` announcement of `credential`.
pub fn token(session: &Session, credential: &Credential) -> Option<String> {
    let fields = token_fields(session, credential)?;
    Some(end(start("token") + &fields))
}

/// The answer to `want` from tab `from`: its token fields, or none (so
/// the asker, which counted `from`, stops waiting for it).
pub fn have(want: &Message, from: &str, offer_fields: Option<String>) -> String {
    let mut s = start("have");
    field(&mut s, "from", from);
    if let Some(to) = want.from() {
        field(&mut s, "to", to);
    }
    if let Some(nonce) = want.nonce.filter(|n| n.is_finite()) {
        number(&mut s, "nonce", nonce as i64);
    }
    s.push_str(&offer_fields.unwrap_or_default());
    end(s)
}

/// Hands the session's newest refresh token to the other tabs.
pub fn refresh(session: &Session) -> Option<String> {
    Some(end(start("refresh") + &refresh_fields(session)?))
}

/// `customer` logged out.
pub fn logout(customer: &str) -> String {
    let mut s = start("logout");
    field(&mut s, "customerId", customer);
    end(s)
}
