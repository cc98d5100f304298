//! The driver's inputs and effects as compact JSON arrays, for a host in
//! another language that crosses one boundary per input (the browser's JS
//! host over the wasm exports): `[tag, …fields]` in, a list of
//! `[tag, …fields]` out. Encoding only: nothing here decides.

use super::{
    event_detail, event_name, DpopAnswer, Driver, Effect, HttpAnswer, Input, ProofTarget,
    ProviderFailure, Reply, StorageKey, LOCK_WAIT_MS,
};
use crate::error::{Error, ErrorCode, Result};
use crate::secret::SecretString;
use crate::wire::json::{write_int, write_string, Value};

fn bad() -> Error {
    Error::malformed("host input is not understood")
}

/// An input's fields after its tag. A field of the wrong type marks the
/// whole input as not understood (checked once, at the end) instead of
/// returning at once: one error path for every field.
struct Fields<'a> {
    values: &'a [Value],
    bad: std::cell::Cell<bool>,
}

impl Fields<'_> {
    fn get(&self, i: usize) -> &Value {
        self.values.get(i).unwrap_or(&Value::Null)
    }
    fn id(&self, i: usize) -> u64 {
        match self.get(i) {
            Value::Number(n) if *n >= 0.0 && n.fract() == 0.0 => *n as u64,
            _ => {
                self.bad.set(true);
                0
            }
        }
    }
    fn flag(&self, i: usize) -> bool {
        matches!(self.get(i), Value::Bool(true))
    }
    fn text(&self, i: usize) -> Option<String> {
        self.get(i).as_str().map(str::to_owned)
    }
    fn need(&self, i: usize) -> String {
        self.text(i).unwrap_or_else(|| {
            self.bad.set(true);
            String::new()
        })
    }
    fn target(&self, i: usize) -> Option<ProofTarget> {
        Some(ProofTarget {
            method: self.text(i)?,
            url: self.text(i + 1)?,
        })
    }
    fn error(&self, i: usize) -> Error {
        let code = self
            .get(i)
            .as_str()
            .and_then(ErrorCode::parse)
            .unwrap_or(ErrorCode::Network);
        Error::new(code, self.text(i + 1).unwrap_or_default())
    }
}

/// An input's kind, as its tag names it.
#[derive(Clone, Copy)]
enum Tag {
    SetCustomer,
    ClearCustomer,
    GetToken,
    AuthHeaders,
    Fetch,
    FetchAnswered,
    FetchSettled,
    FetchFailed,
    Destroy,
    Timer,
    Wake,
    Online,
    ProviderAnswered,
    ProviderFailed,
    TokenAnswered,
    TokenFailed,
    TokenChecked,
    LockGranted,
    LockFailed,
    PresenceFailed,
    Peers,
    Message,
    StorageFailed,
    ProofKey,
    Signed,
}

/// The input tags and their [`Tag`]: one table lookup instead of a
/// string comparison per arm.
const TAGS: [(&str, Tag); 25] = [
    ("setCustomer", Tag::SetCustomer),
    ("clearCustomer", Tag::ClearCustomer),
    ("getToken", Tag::GetToken),
    ("authHeaders", Tag::AuthHeaders),
    ("fetch", Tag::Fetch),
    ("fetchAnswered", Tag::FetchAnswered),
    ("fetchSettled", Tag::FetchSettled),
    ("fetchFailed", Tag::FetchFailed),
    ("destroy", Tag::Destroy),
    ("timer", Tag::Timer),
    ("wake", Tag::Wake),
    ("online", Tag::Online),
    ("providerAnswered", Tag::ProviderAnswered),
    ("providerFailed", Tag::ProviderFailed),
    ("tokenAnswered", Tag::TokenAnswered),
    ("tokenFailed", Tag::TokenFailed),
    ("tokenChecked", Tag::TokenChecked),
    ("lockGranted", Tag::LockGranted),
    ("lockFailed", Tag::LockFailed),
    ("presenceFailed", Tag::PresenceFailed),
    ("peers", Tag::Peers),
    ("message", Tag::Message),
    ("storageFailed", Tag::StorageFailed),
    ("proofKey", Tag::ProofKey),
    ("signed", Tag::Signed),
];

/// Reads one host input (`[tag, …]`); `storage` names the driver's entries.
pub fn input_from_json(driver: &Driver, value: &Value) -> Result<Input> {
    let (tag, rest) = value
        .as_array()
        .and_then(<[Value]>::split_first)
        .ok_or_else(bad)?;
    let tag = tag
        .as_str()
        .and_then(|t| TAGS.iter().find(|(known, _)| *known == t))
        .map(|&(_, tag)| tag)
        .ok_or_else(bad)?;
    let f = Fields {
        values: rest,
        bad: std::cell::Cell::new(false),
    };
    let input = match tag {
        Tag::SetCustomer => Input::SetCustomer {
            request: f.id(0),
            customer_id: f.need(1),
            provider: f.flag(2),
            stored: f.text(3),
        },
        Tag::ClearCustomer => Input::ClearCustomer { request: f.id(0) },
        Tag::GetToken => Input::GetToken {
            request: f.id(0),
            force: f.flag(1),
        },
        Tag::AuthHeaders => Input::AuthHeaders {
            request: f.id(0),
            origin: f.text(1),
            target: f.target(2),
        },
        Tag::Fetch => Input::Fetch {
            request: f.id(0),
            origin: f.text(1),
            follows_redirects: f.flag(2),
            replayable: f.flag(3),
            target: f.target(4),
        },
        Tag::FetchAnswered => Input::FetchAnswered {
            request: f.id(0),
            status: f.id(1) as u16,
            opaque_redirect: f.flag(2),
            dpop: DpopAnswer {
                nonce: f.text(3),
                www_authenticate: f.text(4),
            },
        },
        Tag::FetchSettled => Input::FetchSettled { request: f.id(0) },
        Tag::FetchFailed => Input::FetchFailed {
            request: f.id(0),
            aborted: f.flag(1),
        },
        Tag::Destroy => Input::Destroy,
        Tag::Timer => Input::TimerFired,
        Tag::Wake => Input::Wake,
        Tag::Online => Input::Online(f.flag(0)),
        Tag::ProviderAnswered => Input::ProviderAnswered {
            call: f.id(0),
            context: f.text(1),
        },
        Tag::ProviderFailed => Input::ProviderFailed {
            call: f.id(0),
            failure: match f.get(1).as_str() {
                Some("threw") => ProviderFailure::Threw,
                Some("missing") => ProviderFailure::Missing,
                _ => ProviderFailure::Rejected,
            },
        },
        Tag::TokenAnswered => Input::TokenEndpointAnswered {
            call: f.id(0),
            answer: HttpAnswer {
                status: f.id(1) as u16,
                date: f.text(2),
                retry_after: f.text(3),
                body: SecretString::new(f.text(4).unwrap_or_default()),
                dpop_nonce: f.text(5),
            },
        },
        Tag::TokenFailed => Input::TokenEndpointFailed {
            call: f.id(0),
            error: f.error(1),
        },
        Tag::TokenChecked => Input::TokenChecked {
            call: f.id(0),
            result: match f.get(1) {
                Value::Null => Ok(None),
                _ => Err(f.error(1)),
            },
        },
        Tag::LockGranted => Input::LockGranted { lock: f.id(0) },
        Tag::LockFailed => Input::LockFailed { lock: f.id(0) },
        Tag::PresenceFailed => Input::PresenceFailed,
        Tag::Peers => Input::PeersCounted {
            peers: f
                .need(0)
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
        },
        Tag::Message => Input::Message(SecretString::new(f.need(0))),
        Tag::StorageFailed => {
            let name = f.get(0).as_str();
            match [StorageKey::AnonymousId, StorageKey::Token]
                .into_iter()
                .find(|&k| Some(driver.storage_name(k)) == name)
            {
                Some(key) => Input::StorageFailed { key },
                None => return Err(bad()),
            }
        }
        Tag::ProofKey => match (f.text(0), f.text(1)) {
            (Some(x), Some(y)) => Input::ProofKeyReady { x, y },
            _ => Input::ProofKeyFailed,
        },
        Tag::Signed => Input::ProofSigned {
            proof: f.id(0),
            signature: f
                .get(1)
                .as_str()
                .and_then(|s| crate::wire::base64url::decode(s.as_bytes())),
        },
    };
    if f.bad.get() {
        return Err(bad());
    }
    Ok(input)
}

fn sep(out: &mut String) {
    out.push(',');
}

fn str_field(out: &mut String, s: &str) {
    sep(out);
    write_string(out, s);
}

fn opt_str(out: &mut String, s: Option<&str>) {
    sep(out);
    match s {
        Some(s) => write_string(out, s),
        None => out.push_str("null"),
    }
}

fn int_field(out: &mut String, n: i64) {
    sep(out);
    write_int(out, n);
}

fn bool_field(out: &mut String, b: bool) {
    sep(out);
    out.push_str(if b { "true" } else { "false" });
}

fn headers(out: &mut String, list: &[super::Header]) {
    sep(out);
    headers_object(out, list);
}

/// `list` as one JSON object, `{"name":"value",…}` (a reply's headers).
pub fn headers_object(out: &mut String, list: &[super::Header]) {
    out.push('{');
    for (i, (name, value)) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, name);
        out.push(':');
        write_string(out, value.secret());
    }
    out.push('}');
}

fn error_fields(out: &mut String, e: &Error) {
    str_field(out, e.code().as_str());
    str_field(out, e.message());
    opt_str(out, e.detail());
}

fn reply(out: &mut String, r: &Reply) {
    match r {
        Reply::Done => str_field(out, "done"),
        Reply::Token(t) => {
            str_field(out, "token");
            opt_str(out, t.as_ref().map(SecretString::secret));
        }
        Reply::Headers(h) => {
            str_field(out, "headers");
            headers(out, h);
        }
        Reply::Plain => str_field(out, "plain"),
        Reply::Send {
            headers: h,
            manual_redirect,
            settles_unless,
        } => {
            str_field(out, "send");
            headers(out, h);
            bool_field(out, *manual_redirect);
            sep(out);
            match settles_unless {
                Some(status) => write_int(out, i64::from(*status)),
                None => out.push_str("null"),
            }
        }
        Reply::Replay { headers: h } => {
            str_field(out, "replay");
            headers(out, h);
        }
        Reply::Response => str_field(out, "response"),
        Reply::Reject(e) => {
            str_field(out, "reject");
            error_fields(out, e);
        }
        Reply::Rethrow => str_field(out, "rethrow"),
    }
}

/// Appends `effect` as `[tag, …]` to `out` (`lock` and `peers` with their
/// bound, [`LOCK_WAIT_MS`]). A [`Effect::CheckToken`]'s
/// verification options stay with the caller (`check` carries the token
/// and whether to introspect only).
pub fn effect_json(driver: &Driver, effect: &Effect, out: &mut String) {
    out.push('[');
    let tag = |out: &mut String, t: &str| write_string(out, t);
    match effect {
        Effect::Reply { request, reply: r } => {
            tag(out, "reply");
            int_field(out, *request as i64);
            reply(out, r);
        }
        Effect::CallProvider(call) => {
            tag(out, "provider");
            int_field(out, call.id as i64);
            bool_field(out, call.needs_refresh);
            str_field(out, call.reason.as_str());
            int_field(out, call.deadline);
        }
        Effect::PostRefreshGrant { call, body, proof } => {
            tag(out, "grant");
            int_field(out, *call as i64);
            str_field(out, body.secret());
            opt_str(out, proof.as_ref().map(SecretString::secret));
        }
        Effect::CheckToken {
            call,
            token,
            signature,
            introspect,
        } => {
            tag(out, "check");
            int_field(out, *call as i64);
            str_field(out, token.secret());
            bool_field(out, signature.is_some());
            bool_field(out, *introspect);
        }
        Effect::AbortCall(call) => {
            tag(out, "abort");
            int_field(out, *call as i64);
        }
        Effect::ArmTimer { delay_ms } => {
            tag(out, "arm");
            int_field(out, i64::from(*delay_ms));
        }
        Effect::ClearTimer => tag(out, "clear"),
        Effect::Emit(event) => {
            tag(out, "emit");
            str_field(out, event_name(event));
            sep(out);
            out.push_str(&event_detail(event));
        }
        Effect::LoginNeeded { code, reason } => {
            tag(out, "login");
            str_field(out, code.as_str());
            str_field(out, reason);
        }
        Effect::Store { key, value } => {
            tag(out, "store");
            str_field(out, driver.storage_name(*key));
            opt_str(out, value.as_ref().map(SecretString::secret));
        }
        Effect::Post(text) => {
            tag(out, "post");
            str_field(out, text.secret());
        }
        Effect::AcquireLock { lock, name } => {
            tag(out, "lock");
            int_field(out, *lock as i64);
            str_field(out, name);
            int_field(out, i64::from(LOCK_WAIT_MS));
        }
        Effect::ReleaseLock(lock) => {
            tag(out, "release");
            int_field(out, *lock as i64);
        }
        Effect::HoldPresence { name } => {
            tag(out, "presence");
            str_field(out, name);
        }
        Effect::CountPeers { prefix, own } => {
            tag(out, "peers");
            str_field(out, prefix);
            str_field(out, own);
            int_field(out, i64::from(LOCK_WAIT_MS));
        }
        Effect::Close => tag(out, "close"),
        Effect::LoadProofKey { name, replace } => {
            tag(out, "loadKey");
            str_field(out, name);
            opt_str(out, replace.as_deref());
        }
        Effect::SignProof {
            proof,
            signing_input,
        } => {
            tag(out, "sign");
            int_field(out, *proof as i64);
            str_field(out, signing_input);
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Config;
    use crate::session::driver::{Entropy, Environment};
    use crate::wire::json;

    struct Counter(u8);

    impl Entropy for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    fn driver() -> Driver {
        let options =
            json::parse_object(br#"{"apiOrigins":["https://chat.example.com"]}"#).unwrap();
        let env = Environment {
            has_provider: true,
            online: true,
            ..Environment::default()
        };
        Driver::new(
            Config::from_json(&options).unwrap(),
            env,
            Box::new(Counter(0)),
            0,
        )
        .unwrap()
    }

    fn input(d: &Driver, text: &str) -> Result<Input> {
        input_from_json(d, &json::parse(text.as_bytes()).unwrap())
    }

    #[test]
    fn inputs_read_from_their_arrays() {
        let d = driver();
        assert!(matches!(
            input(&d, r#"["setCustomer",3,"c_1",true,null]"#),
            Ok(Input::SetCustomer { request: 3, ref customer_id, provider: true, stored: None }) if customer_id == "c_1"
        ));
        assert!(matches!(
            input(&d, r#"["fetch",4,"https://chat.example.com",true,false,"GET","https://chat.example.com/x"]"#),
            Ok(Input::Fetch { request: 4, follows_redirects: true, replayable: false, target: Some(ref t), .. }) if t.url == "https://chat.example.com/x"
        ));
        assert!(matches!(
            input(&d, r#"["fetchSettled",4]"#),
            Ok(Input::FetchSettled { request: 4 })
        ));
        assert!(matches!(
            input(&d, r#"["tokenFailed",2,"provider_timeout","slow"]"#),
            Ok(Input::TokenEndpointFailed { call: 2, ref error }) if error.code() == ErrorCode::ProviderTimeout
        ));
        assert!(matches!(
            input(&d, r#"["signed",1,"AQID"]"#),
            Ok(Input::ProofSigned { proof: 1, signature: Some(ref s) }) if s == &[1, 2, 3]
        ));
        assert!(matches!(
            input(&d, r#"["storageFailed","chat-auth:anonymous-id"]"#),
            Ok(Input::StorageFailed {
                key: StorageKey::AnonymousId
            })
        ));
        assert!(matches!(
            input(&d, r#"["peers","t-1 t-2"]"#),
            Ok(Input::PeersCounted { ref peers }) if peers == &["t-1", "t-2"]
        ));
        assert!(matches!(
            input(&d, r#"["peers",""]"#),
            Ok(Input::PeersCounted { ref peers }) if peers.is_empty()
        ));
        // Nothing the host could send by mistake is taken for an input.
        for bad in [
            r#"["nope"]"#,
            r#"{}"#,
            r#"["getToken",-1]"#,
            r#"["storageFailed","x"]"#,
            // Any field of the wrong type refuses the whole input, also
            // one after fields that were read fine (one check at the end).
            r#"[]"#,
            r#"[5]"#,
            r#""getToken""#,
            r#"["getToken",1.5]"#,
            r#"["setCustomer",1,5]"#,
            r#"["setCustomer",1]"#,
            r#"["fetchAnswered",1,"200"]"#,
            r#"["tokenAnswered",1,null,"date"]"#,
            r#"["message"]"#,
            r#"["peers",2]"#,
            r#"["Fetch",1]"#,
        ] {
            assert_eq!(
                input(&d, bad).unwrap_err().code(),
                ErrorCode::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn effects_write_compact_arrays() {
        let d = driver();
        let mut out = String::new();
        let reply = Effect::Reply {
            request: 7,
            reply: Reply::Send {
                headers: vec![("Authorization".into(), SecretString::new("Bearer \"t\""))],
                manual_redirect: true,
                settles_unless: Some(401),
            },
        };
        effect_json(&d, &reply, &mut out);
        assert_eq!(
            out,
            r#"["reply",7,"send",{"Authorization":"Bearer \"t\""},true,401]"#
        );
        let mut out = String::new();
        let reject = Effect::Reply {
            request: 1,
            reply: Reply::Reject(Error::new(ErrorCode::Destroyed, "gone")),
        };
        effect_json(&d, &reject, &mut out);
        assert_eq!(out, r#"["reply",1,"reject","destroyed","gone",null]"#);
        let mut out = String::new();
        effect_json(&d, &Effect::ArmTimer { delay_ms: 60_000 }, &mut out);
        assert_eq!(out, r#"["arm",60000]"#);
        // Every effect is one JSON array.
        let mut out = String::new();
        effect_json(
            &d,
            &Effect::Store {
                key: StorageKey::AnonymousId,
                value: None,
            },
            &mut out,
        );
        assert!(json::parse(out.as_bytes()).unwrap().as_array().is_some());
        assert_eq!(out, r#"["store","chat-auth:anonymous-id",null]"#);
    }
}
