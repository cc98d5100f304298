//! `verifyToken` in two halves around WebCrypto's verify: [`verify_prepare`]
//! runs rules 1–7 up to the signature and hands over what WebCrypto needs,
//! [`verify_finish`] takes its answer and checks the claims.

use super::error_json;
use super::webcrypto::crypto_request;
use crate::error::{Error, ErrorCode, Result};
use crate::jose::verify::{self, Prepared, VerifyOptions};
use crate::wire::json::{self, write_int};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Verifications between their two halves: a caller's WebCrypto promise
/// always settles, so an entry lives one await; the oldest go beyond this.
const PENDING_MAX: usize = 64;

type Pending = (u64, Prepared, Rc<VerifyOptions>);

// Cells (taken, then put back), not RefCells: a RefCell borrow's panic path
// links core::fmt's padding into the wasm build (1.4 KB).
thread_local! {
    /// The options of the last call, parsed, by their JSON text: callers
    /// verify many tokens with the same options, and parsing them (JSON,
    /// PEM, DER, key checks) costs more than WebCrypto's verify (bench).
    static LAST_OPTIONS: Cell<Option<(String, Rc<VerifyOptions>)>> = const { Cell::new(None) };
    static PENDING: Cell<(u64, Vec<Pending>)> = const { Cell::new((1, Vec::new())) };
}

fn options(text: &str) -> Result<Rc<VerifyOptions>> {
    let hit = LAST_OPTIONS.with(|last| {
        let kept = last.take();
        let hit = kept
            .as_ref()
            .filter(|(t, _)| t == text)
            .map(|(_, o)| o.clone());
        last.set(kept);
        hit
    });
    if let Some(opts) = hit {
        return Ok(opts);
    }
    let object = json::parse_object(text.as_bytes())
        .map_err(|_| Error::new(ErrorCode::InvalidConfig, "options must be an object"))?;
    let opts = Rc::new(VerifyOptions::from_json(&object)?);
    // An HMAC secret is not kept beyond the call.
    if !object.contains("secret") {
        LAST_OPTIONS.with(|last| last.set(Some((text.to_owned(), opts.clone()))));
    }
    Ok(opts)
}

/// `{"x": id, "c": cryptoRequest}`, or the error's `[code, message]`.
#[wasm_bindgen(js_name = verifyPrepare)]
pub fn verify_prepare(token: &str, options_json: &str) -> String {
    let prepared =
        options(options_json).and_then(|opts| Ok((verify::prepare(token, &opts)?, opts)));
    match prepared {
        Err(e) => error_json(&e),
        Ok((prepared, opts)) => {
            let mut out = String::from("{\"x\":");
            PENDING.with(|p| {
                let (next, mut list) = p.take();
                write_int(&mut out, next as i64);
                out.push_str(",\"c\":");
                crypto_request(&prepared, &mut out);
                if list.len() >= PENDING_MAX {
                    list.remove(0);
                }
                list.push((next, prepared, opts));
                p.set((next + 1, list));
            });
            out.push('}');
            out
        }
    }
}

/// The claims' JSON text, or the error's `[code, message]`.
#[wasm_bindgen(js_name = verifyFinish)]
pub fn verify_finish(id: f64, verified: bool, now: f64) -> String {
    let entry = PENDING.with(|p| {
        let (next, mut list) = p.take();
        let entry = list
            .iter()
            .position(|(x, _, _)| *x == id as u64)
            .map(|at| list.remove(at));
        p.set((next, list));
        entry
    });
    let Some((_, prepared, opts)) = entry else {
        return error_json(&Error::malformed("no verification under way"));
    };
    if !verified {
        return error_json(&Error::new(
            ErrorCode::BadSignature,
            "the signature does not verify",
        ));
    }
    let now = opts.now_ms.unwrap_or(now as i64);
    match verify::finish(&prepared, &opts, now).and_then(|_| {
        String::from_utf8(prepared.jwt().payload().to_vec())
            .map_err(|_| Error::malformed("JWT payload is not UTF-8"))
    }) {
        Ok(payload) => payload,
        Err(e) => error_json(&e),
    }
}
