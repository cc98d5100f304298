//! The wasm encoding of the token checks ([`IssuerClient`]): its steps go
//! out as pseudo-effects beside the driver's (`["http", x, url, formBody,
//! delayMs]`, `["verify", x, request]`, `["grant", call, body, proof, url,
//! timeoutMs]`) and come back as `["httpAnswered", x, status, text]`
//! (status 0: failed) or `["verified", x, ok]` (`null`: no WebCrypto). The
//! issuer's metadata is shared by every `ChatAuth` on the page (one list,
//! lent to each client while it runs).

use crate::jose::verify::VerifyOptions;
use crate::options::Config;
use crate::secret::SecretString;
use crate::session::discovery::Metadata;
use crate::session::driver::{Input, GRANT_TIMEOUT_MS};
use crate::session::issuer::{IssuerClient, Step};
use crate::session::machine::CallId;
use crate::wire::json::{write_int, write_string};

use super::webcrypto::crypto_request;

thread_local! {
    /// Issuer metadata fetched on this page, by issuer: once per page, for
    /// every `ChatAuth` on it.
    /// A Cell (taken, then put back), not a RefCell: a RefCell borrow's
    /// panic path links core::fmt's padding into the wasm build (1.4 KB).
    static METADATA: std::cell::Cell<Vec<Metadata>> = const { std::cell::Cell::new(Vec::new()) };
}

/// One session's checks, with the page's metadata.
pub struct Checker(IssuerClient);

impl Checker {
    /// From the options.
    pub fn new(config: &Config) -> Checker {
        Checker(IssuerClient::new(config))
    }

    /// Lends the client the page's metadata list.
    fn before(&mut self) -> &mut IssuerClient {
        *self.0.known_metadata() = METADATA.take();
        &mut self.0
    }

    /// Puts the page's metadata list back (with what the client learned).
    fn after(&mut self, input: Option<Input>) -> Option<Input> {
        METADATA.set(std::mem::take(self.0.known_metadata()));
        input
    }

    /// The driver asked to check a token ([`IssuerClient::check`]).
    pub fn check(
        &mut self,
        call: CallId,
        token: SecretString,
        signature: Option<Box<VerifyOptions>>,
        introspect: bool,
        out: &mut String,
    ) -> Option<Input> {
        let input = write_step(self.before().check(call, token, signature, introspect), out);
        self.after(input)
    }

    /// The driver asked to post a refresh grant ([`IssuerClient::grant`]).
    pub fn grant(
        &mut self,
        call: CallId,
        body: SecretString,
        proof: Option<SecretString>,
        out: &mut String,
    ) -> Option<Input> {
        let input = write_step(self.before().grant(call, body, proof), out);
        self.after(input)
    }

    /// `["verified", x, ok]`.
    pub fn verified(&mut self, id: u64, ok: Option<bool>, out: &mut String) -> Option<Input> {
        let input = self
            .before()
            .verified(id, ok)
            .and_then(|s| write_step(s, out));
        self.after(input)
    }

    /// `["httpAnswered", x, status, text]`.
    pub fn answered(
        &mut self,
        id: u64,
        status: u16,
        text: &str,
        out: &mut String,
    ) -> Option<Input> {
        let input = self
            .before()
            .answered(id, status, text)
            .and_then(|s| write_step(s, out));
        self.after(input)
    }
}

fn comma(out: &mut String) {
    if out.len() > 1 {
        out.push(',');
    }
}

fn write_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => write_string(out, s),
        None => out.push_str("null"),
    }
}

/// `step` as a pseudo-effect in `out`, or the driver's input it is.
fn write_step(step: Step, out: &mut String) -> Option<Input> {
    match step {
        Step::Feed(input) => return Some(input),
        Step::Fetch(f) => {
            comma(out);
            out.push_str("[\"http\",");
            write_int(out, f.exchange as i64);
            out.push(',');
            write_string(out, &f.url);
            out.push(',');
            write_opt(out, f.form.as_deref());
            out.push(',');
            write_int(out, f.delay_ms);
        }
        Step::Verify { id, prepared } => {
            comma(out);
            out.push_str("[\"verify\",");
            write_int(out, id as i64);
            out.push(',');
            crypto_request(&prepared, out);
        }
        Step::PostGrant {
            call,
            body,
            proof,
            url,
        } => {
            comma(out);
            out.push_str("[\"grant\",");
            write_int(out, call as i64);
            out.push(',');
            write_string(out, body.secret());
            out.push(',');
            write_opt(out, proof.as_ref().map(|p| p.secret()));
            out.push(',');
            write_string(out, &url);
            out.push(',');
            write_int(out, GRANT_TIMEOUT_MS);
        }
    }
    out.push(']');
    None
}
