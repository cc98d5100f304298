//! The driver's DPoP bookkeeping (option `dpop`, RFC 9449): the public half
//! of the key the host holds, the last nonce each server sent, and the
//! replies and grants waiting for their proof's signature.
//!
//! The driver decides every claim ([`crate::jose::dpop::ProofClaims`]) and when a
//! proof is needed; the host only loads the key ([`super::Effect::LoadProofKey`])
//! and signs ([`super::Effect::SignProof`]).

use super::{Reply, RequestId};
use crate::jose::dpop::ProofKey;
use crate::secret::SecretString;
use crate::session::driver::Millis;
use crate::session::machine::CallId;

/// Identifies one proof being signed.
pub type ProofId = u64;

/// How many servers' nonces are remembered (the API origins and the token
/// endpoint; a handful).
const MAX_NONCES: usize = 16;

/// How long the key may load, or a proof be signed, before the requests
/// waiting for it are rejected (`dpop_unbound`): IndexedDB or WebCrypto
/// may never answer (a blocked open, a hung transaction).
pub const PROOF_WAIT_MS: Millis = 10_000;

/// The request a proof is made for: its method and absolute URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProofTarget {
    /// The method, as the request is sent (`GET`, `POST`).
    pub method: String,
    /// The absolute URL (`new URL(input, location.href).href`).
    pub url: String,
}

/// What an answer said about DPoP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DpopAnswer {
    /// The `DPoP-Nonce` header, if readable.
    pub nonce: Option<String>,
    /// The `WWW-Authenticate` header, if readable.
    pub www_authenticate: Option<String>,
}

/// Whether `www_authenticate` holds a DPoP challenge with
/// `error="use_dpop_nonce"` (RFC 9449 §9), among any others (§7.2 allows
/// `Bearer …, DPoP …`): the header is split at the commas outside quoted
/// strings; a part with a space before any `=` starts a challenge (its
/// scheme, then its first parameter), any other part is a parameter of the
/// challenge before it.
pub fn is_nonce_challenge(www_authenticate: &str) -> bool {
    let mut dpop = false;
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    let b = www_authenticate.as_bytes();
    for i in 0..=b.len() {
        let c = b.get(i).copied();
        if quoted {
            match c {
                Some(b'\\') if !escaped => escaped = true,
                Some(b'"') if !escaped => quoted = false,
                _ => escaped = false,
            }
            if c.is_some() {
                continue;
            }
        }
        match c {
            Some(b'"') => quoted = true,
            Some(b',') | None => {
                let part = www_authenticate.get(start..i).unwrap_or("").trim();
                start = i + 1;
                let mut param = part;
                let eq = part.find('=').unwrap_or(part.len());
                if let Some((scheme, rest)) = part.split_once(' ').filter(|(s, _)| s.len() < eq) {
                    dpop = scheme.eq_ignore_ascii_case(crate::jose::dpop::SCHEME);
                    param = rest.trim_start();
                } else if !part.contains('=') && !part.is_empty() {
                    // A bare scheme (no parameters).
                    dpop = part.eq_ignore_ascii_case(crate::jose::dpop::SCHEME);
                    continue;
                }
                if dpop {
                    if let Some((name, value)) = param.split_once('=') {
                        if name.trim().eq_ignore_ascii_case("error")
                            && value.trim().trim_matches('"') == crate::jose::dpop::USE_DPOP_NONCE
                        {
                            return true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// Whether a token endpoint's error body is `use_dpop_nonce` (§8).
pub fn is_nonce_error(body: &str) -> bool {
    crate::wire::json::parse_object(body.as_bytes())
        .ok()
        .is_some_and(|o| o.get_str("error") == Some(crate::jose::dpop::USE_DPOP_NONCE))
}

/// Whether a token endpoint's error body refuses the DPoP proof rather than
/// the grant: `invalid_dpop_proof` or `use_dpop_nonce` (§5, §8); the refresh
/// token was not spent.
pub fn is_proof_error(body: &str) -> bool {
    crate::wire::json::parse_object(body.as_bytes())
        .ok()
        .is_some_and(|o| {
            matches!(
                o.get_str("error"),
                Some(crate::jose::dpop::USE_DPOP_NONCE | "invalid_dpop_proof")
            )
        })
}

/// The key's state.
#[derive(Debug)]
pub(super) enum Key {
    /// The host is loading or making it.
    Loading,
    /// Ready: its public half and thumbprint.
    Ready(ProofKey, String),
    /// WebCrypto (or IndexedDB) could not give one.
    Failed,
}

/// What a proof is for.
#[derive(Debug)]
pub(super) enum Purpose {
    /// A reply (`Send`, `Replay`, `Headers`) that goes out with the proof
    /// added to its headers.
    Reply {
        request: RequestId,
        reply: Reply,
        target: ProofTarget,
        token: Option<SecretString>,
    },
    /// A refresh grant: its body and the token endpoint's URL.
    Grant {
        call: CallId,
        body: SecretString,
        url: String,
    },
}

impl Purpose {
    pub(super) fn url(&self) -> &str {
        match self {
            Purpose::Reply { target, .. } => &target.url,
            Purpose::Grant { url, .. } => url,
        }
    }
}

/// The DPoP state of one driver.
#[derive(Debug)]
pub(super) struct Proofs {
    pub(super) key: Key,
    /// The last `DPoP-Nonce` of each server (by origin), newest last.
    nonces: Vec<(String, String)>,
    next: ProofId,
    /// Proofs being signed, with their signing input.
    signing: Vec<(ProofId, Purpose, String, Millis)>,
    /// When a key still loading counts as failed.
    key_deadline: Millis,
    /// Proofs waiting for the key.
    waiting: Vec<Purpose>,
}

impl Proofs {
    pub(super) fn new(now: Millis) -> Proofs {
        Proofs {
            key: Key::Loading,
            nonces: Vec::new(),
            next: 1,
            signing: Vec::new(),
            key_deadline: now.saturating_add(PROOF_WAIT_MS),
            waiting: Vec::new(),
        }
    }

    /// The thumbprint of the key, once ready.
    pub(super) fn jkt(&self) -> Option<&str> {
        match &self.key {
            Key::Ready(_, jkt) => Some(jkt),
            _ => None,
        }
    }

    /// Remembers `nonce` from the server at `url`.
    pub(super) fn nonce_seen(&mut self, url: &str, nonce: &str) {
        let Some(origin) = origin_of(url) else {
            return;
        };
        // A nonce is an opaque token (RFC 9449 §8.1: NQCHAR); anything else is ignored.
        if nonce.is_empty()
            || nonce.len() > 512
            || !crate::wire::all_bytes(nonce, |b| (0x21..0x7f).contains(&b))
        {
            return;
        }
        crate::session::remove_all(&mut self.nonces, |(o, _)| *o == origin);
        if self.nonces.len() == MAX_NONCES {
            crate::session::take_at(&mut self.nonces, 0);
        }
        self.nonces.push((origin.to_owned(), nonce.to_owned()));
    }

    /// The last nonce of the server at `url`.
    pub(super) fn nonce_for(&self, url: &str) -> Option<&str> {
        let origin = origin_of(url)?;
        self.nonces
            .iter()
            .find(|(o, _)| o == origin)
            .map(|(_, n)| n.as_str())
    }

    pub(super) fn wait_for_key(&mut self, purpose: Purpose) {
        self.waiting.push(purpose);
    }

    pub(super) fn take_waiting(&mut self) -> Vec<Purpose> {
        std::mem::take(&mut self.waiting)
    }

    /// Registers `purpose`, whose proof signs `input`, under a fresh id.
    pub(super) fn signing(&mut self, purpose: Purpose, input: String, now: Millis) -> ProofId {
        let id = self.next;
        self.next += 1;
        self.signing
            .push((id, purpose, input, now.saturating_add(PROOF_WAIT_MS)));
        id
    }

    /// A new key is being loaded from `now`: proofs wait for it.
    pub(super) fn reload(&mut self, now: Millis) {
        self.key = Key::Loading;
        self.key_deadline = now.saturating_add(PROOF_WAIT_MS);
    }

    /// Whether the key is still loading past its deadline at `now`.
    pub(super) fn key_overdue(&self, now: Millis) -> bool {
        matches!(self.key, Key::Loading) && now >= self.key_deadline
    }

    /// The proofs still unsigned past their deadline at `now`, removed.
    pub(super) fn take_overdue(&mut self, now: Millis) -> Vec<Purpose> {
        let (late, on_time) = std::mem::take(&mut self.signing)
            .into_iter()
            .partition(|(_, _, _, deadline)| now >= *deadline);
        self.signing = on_time;
        late.into_iter().map(|(_, p, _, _)| p).collect()
    }

    /// The next deadline that something waits on, for the driver's timer.
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        let key = (matches!(self.key, Key::Loading) && !self.waiting.is_empty())
            .then_some(self.key_deadline);
        let signing = self.signing.iter().map(|(_, _, _, d)| *d).min();
        match (key, signing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn take_signing(&mut self, id: ProofId) -> Option<(Purpose, String)> {
        let at = self.signing.iter().position(|(p, _, _, _)| *p == id)?;
        let (_, purpose, input, _) = crate::session::take_at(&mut self.signing, at)?;
        Some((purpose, input))
    }

    /// Everything waiting (for `destroy`).
    pub(super) fn take_all(&mut self) -> Vec<Purpose> {
        let mut all = self.take_waiting();
        all.extend(self.signing.drain(..).map(|(_, p, _, _)| p));
        all
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<&str> {
    let b = url.as_bytes();
    let start = b.windows(3).position(|w| w == b"://")? + 3;
    let end = b
        .iter()
        .skip(start)
        .position(|c| matches!(c, b'/' | b'?' | b'#'))
        .map_or(b.len(), |n| start + n);
    url.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn challenges_and_errors() {
        assert!(is_nonce_challenge(
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#
        ));
        assert!(is_nonce_challenge(
            r#"dpop algs="ES256", error="use_dpop_nonce""#
        ));
        assert!(!is_nonce_challenge(r#"Bearer error="use_dpop_nonce""#));
        // Review 18 finding 6: every challenge of the header counts (§7.2).
        assert!(is_nonce_challenge(
            r#"Bearer realm="api", error="invalid_token", DPoP algs="ES256", error="use_dpop_nonce""#
        ));
        assert!(is_nonce_challenge(
            r#"Bearer realm="a, b", DPoP error="use_dpop_nonce""#
        ));
        assert!(!is_nonce_challenge(
            r#"DPoP algs="ES256", Bearer error="use_dpop_nonce""#
        ));
        assert!(!is_nonce_challenge(
            r#"DPoP error_description="x, error=use_dpop_nonce""#
        ));
        assert!(is_nonce_challenge("Basic, DPoP error=use_dpop_nonce"));
        assert!(!is_nonce_challenge(r#"DPoP error="invalid_token""#));
        assert!(is_nonce_error(r#"{"error":"use_dpop_nonce"}"#));
        assert!(!is_nonce_error(r#"{"error":"invalid_grant"}"#));
        assert!(!is_nonce_error("not json"));
    }

    #[test]
    fn nonces_are_kept_per_origin() {
        let mut p = Proofs::new(0);
        p.nonce_seen("https://a.example/api?x", "n1");
        p.nonce_seen("https://b.example:8443/token", "n2");
        p.nonce_seen("https://a.example/other", "n3");
        assert_eq!(p.nonce_for("https://a.example/x"), Some("n3"));
        assert_eq!(p.nonce_for("https://b.example:8443/"), Some("n2"));
        assert_eq!(p.nonce_for("https://b.example/"), None);
        p.nonce_seen("https://a.example/", "bad nonce");
        assert_eq!(p.nonce_for("https://a.example/x"), Some("n3"));
        for i in 0..40 {
            p.nonce_seen(&format!("https://h{i}.example/"), "n");
        }
        assert!(p.nonces.len() <= MAX_NONCES);
    }
}
