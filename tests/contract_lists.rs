//! The public contract's lists have one source each, and every other place
//! that spells a list out is checked against it here, so a copy cannot
//! drift: add a code or an event at its source and these tests name each
//! file still to update.
//!
//! - Error codes: [`ErrorCode::ALL`] (src/error.rs). `js/error.d.ts` (the
//!   `ChatAuthErrorCode` union, in the same order) is checked; the e2e
//!   helpers' `ERROR_CODES` (tests/e2e/support/e2e.mjs) are read from
//!   `js/error.d.ts`, and the Kotlin SDK's come from `ErrorCode::ALL`
//!   through the FFI (`error_codes`). The fuzz targets' code lists
//!   (tests/fuzz/checks.rs) are not copies: they name, as `ErrorCode`
//!   values, the codes each parser may give.
//! - Event names: the driver's [`EVENTS`]. The `ChatAuthEventMap` of
//!   `js/chat_auth.d.ts`, the e2e page helpers' `EVENT_NAMES`, and the
//!   lists in the FFI and Kotlin docs and the JS host's `EVENTS` (the names
//!   `auth.on` accepts) are checked; the React binding's
//!   events (the ones that change what it renders) must exist, and its docs
//!   (js/react.d.ts, README) name the ones it listens to.
//! - Option names: the lists the options reader accepts
//!   ([`CHAT_AUTH_OPTIONS`], [`REFRESH_OPTIONS`], [`VALIDATION_OPTIONS`],
//!   [`VERIFY_TOKEN_OPTIONS`] in src/options); the `.d.ts` interfaces
//!   (`ChatAuthOptions`, `RefreshOptions`, `ValidationOptions`,
//!   `VerifyOptions`) are checked.
//! - Effect tags and reply kinds: the driver's codec
//!   (src/session/driver/codec.rs) and the export layer (src/exports/check.rs)
//!   emit them; the JS host's `#execute` and `#reply` (js/chat_auth_host.js)
//!   must have a case for each.
#![cfg(not(target_arch = "wasm32"))]

use chat_auth::options::{
    CHAT_AUTH_OPTIONS, REFRESH_OPTIONS, VALIDATION_OPTIONS, VERIFY_TOKEN_OPTIONS,
};
use chat_auth::session::driver::EVENTS;
use chat_auth::ErrorCode;

fn read(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text of `path` from the end of `start` to the first `end` after it.
fn between(path: &str, start: &str, end: &str) -> String {
    let text = read(path);
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{path}: `{start}` not found"))
        + start.len();
    let to = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{path}: no `{end}` after `{start}`"));
    text[from..from + to].to_owned()
}

/// The strings quoted with `quote` in `text`, in order.
fn quoted(text: &str, quote: char) -> Vec<String> {
    text.split(quote)
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn codes() -> Vec<String> {
    ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

fn events() -> Vec<String> {
    EVENTS.iter().map(|e| e.to_string()).collect()
}

#[test]
fn error_d_ts_lists_every_code_in_order() {
    let union = between("js/error.d.ts", "export type ChatAuthErrorCode =", ";");
    assert_eq!(
        quoted(&union, '\''),
        codes(),
        "js/error.d.ts's ChatAuthErrorCode differs from ErrorCode::ALL (src/error.rs)"
    );
}

#[test]
fn e2e_helpers_take_the_codes_from_error_d_ts() {
    // The helpers hold no list of their own: they parse the union above.
    let helpers = read("tests/e2e/support/e2e.mjs");
    assert!(
        helpers.contains("export const ERROR_CODES = codesOf(") && helpers.contains("'error.d.ts'"),
        "tests/e2e/support/e2e.mjs must read ERROR_CODES from js/error.d.ts"
    );
    for code in codes() {
        assert!(
            !helpers.contains(&format!("'{code}',")),
            "tests/e2e/support/e2e.mjs keeps its own copy of the codes ('{code}')"
        );
    }
}

#[test]
fn chat_auth_d_ts_maps_every_event_in_order() {
    let map = between(
        "js/chat_auth.d.ts",
        "export interface ChatAuthEventMap {",
        "\n}",
    );
    let names: Vec<String> = map
        .lines()
        .filter_map(|l| l.trim().split_once(": {"))
        .map(|(name, _)| name.trim_matches('\'').to_owned())
        .collect();
    assert_eq!(
        names,
        events(),
        "js/chat_auth.d.ts's ChatAuthEventMap differs from the driver's EVENTS"
    );
}

#[test]
fn e2e_page_helpers_record_every_event() {
    let list = between(
        "tests/e2e/support/page-helpers.js",
        "const EVENT_NAMES = [",
        "]",
    );
    assert_eq!(
        quoted(&list, '\''),
        events(),
        "tests/e2e/support/page-helpers.js's EVENT_NAMES differs from the driver's EVENTS"
    );
}

#[test]
fn the_docs_that_list_every_event_list_them_all() {
    for (path, start) in [
        ("ffi/src/driver/foreign.rs", "/// The event name ("),
        (
            "android/src/main/kotlin/chatauth/ChatAuth.kt",
            "/** Listens to every event (",
        ),
        (
            "android/src/main/kotlin/chatauth/ChatAuth.kt",
            " * An `auth.on` event: [name] (",
        ),
    ] {
        let list = between(path, start, ")");
        assert_eq!(
            quoted(&list, '`'),
            events(),
            "{path}: the events after `{start}` differ from the driver's EVENTS"
        );
    }
}

#[test]
fn the_js_host_accepts_exactly_the_drivers_events() {
    // `auth.on(name)` refuses a name outside this list with `invalid_config`.
    let list = between("js/chat_auth_host.js", "const EVENTS = [", "]");
    assert_eq!(
        quoted(&list, '\''),
        events(),
        "js/chat_auth_host.js's EVENTS differs from the driver's EVENTS"
    );
}

#[test]
fn the_react_binding_listens_to_events_that_exist() {
    let list = between("js/react.js", "const EVENTS = [", "]");
    let names = quoted(&list, '\'');
    assert!(!names.is_empty(), "js/react.js: no EVENTS");
    for name in &names {
        assert!(
            EVENTS.contains(&name.as_str()),
            "js/react.js listens to '{name}', which the driver never sends"
        );
    }
    // Its docs name the same events.
    let mut listened = names.clone();
    listened.sort();
    for (path, start, end) in [
        (
            "js/react.d.ts",
            "/** The nearest provider's ChatAuth; re-renders on ",
            ". */",
        ),
        ("README.md", "// re-renders on ", "\n"),
    ] {
        let mut documented = quoted(&between(path, start, end), '`');
        documented.sort();
        assert_eq!(
            documented, listened,
            "{path} documents other events than js/react.js listens to"
        );
    }
}

/// The member names of `export interface {name} {` in js/chat_auth.d.ts
/// (its lines `  member?: type;` at the interface's own indentation), sorted.
fn d_ts_members(name: &str) -> Vec<String> {
    let body = between(
        "js/chat_auth.d.ts",
        &format!("export interface {name} {{"),
        "\n}",
    );
    let mut members: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(member, _)| member.trim_end_matches('?'))
        .filter(|member| !member.is_empty() && member.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_owned)
        .collect();
    members.sort();
    members
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

#[test]
fn the_d_ts_option_interfaces_name_what_the_reader_accepts() {
    for (interface, accepted) in [
        ("ChatAuthOptions", &CHAT_AUTH_OPTIONS[..]),
        ("RefreshOptions", &REFRESH_OPTIONS[..]),
        ("ValidationOptions", &VALIDATION_OPTIONS[..]),
        ("VerifyOptions", &VERIFY_TOKEN_OPTIONS[..]),
    ] {
        assert_eq!(
            d_ts_members(interface),
            sorted(accepted),
            "js/chat_auth.d.ts's {interface} differs from the options the reader accepts (src/options)"
        );
    }
}

/// The `"…"` string literals after each `marker` in `text` (the first one
/// per occurrence).
fn literals_after(text: &str, marker: &str) -> Vec<String> {
    text.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let rest = rest.trim_start_matches(['\\', '[']);
            let rest = rest.strip_prefix('"')?;
            let end = rest.find(['"', '\\'])?;
            Some(rest[..end].to_owned())
        })
        .collect()
}

/// Every effect tag the driver's codec and the export layer emit, and every
/// reply kind, has its `case` in the JS host (js/chat_auth_host.js): an
/// effect it does not know would be dropped, a reply left pending.
#[test]
fn the_js_host_handles_every_effect_and_reply_the_wasm_emits() {
    let codec = read("src/session/driver/codec.rs");
    let (replies, effects) = codec
        .split_once("pub fn effect_json")
        .expect("codec.rs has effect_json");
    let replies = replies
        .split_once("fn reply(")
        .expect("codec.rs has reply()")
        .1;
    // `check` and the driver's `grant` never leave the export layer
    // (src/exports/mod.rs hands them to the checker, which emits its own
    // `grant`, `http` and `verify`).
    let mut tags: Vec<String> = literals_after(effects, "tag(out, ")
        .into_iter()
        .filter(|t| t != "check")
        .collect();
    let check = read("src/exports/check.rs");
    let emitted = literals_after(&check, "out.push_str(\"[");
    assert!(
        emitted.len() >= 3,
        "check.rs emits grant, http, verify: {emitted:?}"
    );
    tags.extend(emitted);
    assert!(tags.len() >= 20, "{tags:?}");
    let host = read("js/chat_auth_host.js");
    let execute = between("js/chat_auth_host.js", "  #execute(e) {", "\n  #reply(");
    let missing: Vec<&String> = tags
        .iter()
        .filter(|t| !execute.contains(&format!("case '{t}':")))
        .collect();
    assert!(
        missing.is_empty(),
        "js/chat_auth_host.js #execute has no case for {missing:?}"
    );
    let kinds = literals_after(replies, "str_field(out, ");
    assert!(kinds.len() >= 9, "{kinds:?}");
    let reply = between("js/chat_auth_host.js", "  #reply(", "\n  #callProvider(");
    let missing: Vec<&String> = kinds
        .iter()
        .filter(|k| !reply.contains(&format!("'{k}'")))
        .collect();
    assert!(
        missing.is_empty(),
        "js/chat_auth_host.js #reply has no case for {missing:?}"
    );
    assert!(
        host.contains("effect[0] !== 'error'"),
        "the export layer's `error` effect is handled"
    );
}
