//! The ffi encoding of the token checks and the issuer's endpoints
//! ([`chat_auth::session::issuer::IssuerClient`], shared with the browser):
//! its fetches and the refresh grant's POST go out as [`HttpRequest`]s for
//! the foreign host to send, and the signature step is done here, in
//! process, by jsonwebtoken's native backend ([`NativeVerifier`]). The
//! driver admits every answer.

use crate::driver::HttpRequest;
use chat_auth::error::{Error, ErrorCode};
use chat_auth::jose::verify::{NativeVerifier, SignatureVerifier};
use chat_auth::options::Config;
use chat_auth::secret::SecretString;
use chat_auth::session::driver::{HttpAnswer, Input};
use chat_auth::session::issuer;
use chat_auth::session::machine::CallId;

/// What the issuer client does next: feed the driver, or send a request and wait.
#[derive(Debug)]
pub enum Step {
    /// Feed this to the driver.
    Feed(Input),
    /// Send this; its answer comes back through [`IssuerClient::answered`].
    Send(HttpRequest),
}

/// The answer of one exchange, as the host received it.
#[derive(Debug)]
pub enum Answer {
    /// The server answered.
    Http(HttpAnswer),
    /// The request failed (no connection, timeout, unreadable body).
    Failed,
}

/// One session's checks, and the refresh grants on the wire.
pub struct IssuerClient {
    core: issuer::IssuerClient,
    /// Refresh grants posted, by exchange: their answers go to the driver.
    grants: Vec<(u64, CallId)>,
}

impl std::fmt::Debug for IssuerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerClient").finish_non_exhaustive()
    }
}

impl IssuerClient {
    /// From the options (their keys were parsed and checked with them).
    pub fn new(config: &Config) -> IssuerClient {
        IssuerClient {
            core: issuer::IssuerClient::new(config),
            grants: Vec::new(),
        }
    }

    /// Carries `step` on until the host or the driver has something to do:
    /// signatures are checked here, grants become requests.
    fn settle(&mut self, mut step: Next) -> Option<Step> {
        loop {
            step = match step {
                Next::Step(step) => return Some(step),
                Next::Grant { call, body, url } => {
                    let exchange = self.core.next_id();
                    self.grants.push((exchange, call));
                    return Some(Step::Send(HttpRequest {
                        exchange,
                        url,
                        form_body: Some(body.secret().to_owned()),
                        delay_ms: 0,
                    }));
                }
                Next::Verified { id, ok } => next(self.core.verified(id, Some(ok))?),
            };
        }
    }

    /// The driver asked to post the refresh grant `body` for `call` (no
    /// DPoP on this host).
    pub fn post_refresh_grant(&mut self, call: CallId, body: SecretString) -> Option<Step> {
        let step = next(self.core.grant(call, body, None));
        self.settle(step)
    }

    /// The driver asked to check `token` for `call`.
    pub fn check_token(
        &mut self,
        call: CallId,
        token: SecretString,
        signature: Option<Box<chat_auth::jose::verify::VerifyOptions>>,
        introspect: bool,
    ) -> Option<Step> {
        let step = next(self.core.check(call, token, signature, introspect));
        self.settle(step)
    }

    /// The host reports exchange `exchange`'s outcome; `None` when it is
    /// not one of ours (answered twice, or after `destroy`) or nothing follows.
    pub fn answered(&mut self, exchange: u64, answer: Answer) -> Option<Step> {
        if let Some(at) = self.grants.iter().position(|(e, _)| *e == exchange) {
            let (_, call) = self.grants.remove(at);
            return Some(Step::Feed(match answer {
                Answer::Http(answer) => Input::TokenEndpointAnswered { call, answer },
                Answer::Failed => Input::TokenEndpointFailed {
                    call,
                    error: Error::new(
                        ErrorCode::Network,
                        "the token endpoint could not be reached",
                    ),
                },
            }));
        }
        let step = match &answer {
            Answer::Http(a) => self.core.answered(exchange, a.status, a.body.secret()),
            Answer::Failed => self.core.answered(exchange, 0, ""),
        }
        .map(next)?;
        self.settle(step)
    }

    /// Forgets the exchanges on the wire (`destroy`): their answers are ignored.
    pub fn forget(&mut self) {
        self.core.forget();
        self.grants.clear();
    }
}

/// A core step made owned, its signature checked.
enum Next {
    Step(Step),
    Grant {
        call: CallId,
        body: SecretString,
        url: String,
    },
    Verified {
        id: u64,
        ok: bool,
    },
}

fn next(step: issuer::Step) -> Next {
    match step {
        issuer::Step::Feed(input) => Next::Step(Step::Feed(input)),
        issuer::Step::Fetch(f) => Next::Step(Step::Send(HttpRequest {
            exchange: f.exchange,
            url: f.url,
            form_body: f.form,
            delay_ms: f.delay_ms,
        })),
        // No DPoP on this host: no proof.
        issuer::Step::PostGrant {
            call, body, url, ..
        } => Next::Grant { call, body, url },
        issuer::Step::Verify { id, prepared } => Next::Verified {
            id,
            ok: NativeVerifier.verify(
                prepared.alg(),
                prepared.key(),
                prepared.signing_input(),
                prepared.signature(),
            ),
        },
    }
}
