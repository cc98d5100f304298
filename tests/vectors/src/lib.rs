//! The verification vectors (`tests/vectors/*.json`, format in
//! `tests/vectors/README.md`) and their one loader, for every runner:
//! `tests/vectors_native.rs` (the crate natively), `tests/wasm_vectors.rs`
//! (the exported `verifyToken` in Chromium), `server/tests/vectors.rs` (the
//! reference backend's validator) and the fuzz seeds (`tests/fuzz/`).
//!
//! The files are compiled in, so the browser runs exactly what the native
//! runners run; this crate's own test fails when a file in the folder is
//! missing from [`FILES`]. The loader checks the format (a description, the
//! keys, unique case names, an `expect` that is `ok` or a stable error code),
//! so every runner gets well-formed cases or a clear panic naming the case.

#![deny(missing_docs)]

use chat_auth::time::Millis;
use chat_auth::wire::json::{self, Object, Value};
use chat_auth::ErrorCode;

/// Every vector file, by name, with its text.
pub const FILES: [(&str, &str); 8] = [
    ("algorithms.json", include_str!("../algorithms.json")),
    ("attacks.json", include_str!("../attacks.json")),
    ("claims.json", include_str!("../claims.json")),
    ("header.json", include_str!("../header.json")),
    ("keys.json", include_str!("../keys.json")),
    ("options.json", include_str!("../options.json")),
    ("rfc.json", include_str!("../rfc.json")),
    ("structure.json", include_str!("../structure.json")),
];

/// The HMAC secret the vectors' HS* tokens are signed with (`keys/hmac-secret.txt`).
pub const HMAC_SECRET: &str = include_str!("../keys/hmac-secret.txt");

/// One vector file.
#[derive(Clone, Debug)]
pub struct VectorFile {
    /// The file name, e.g. `claims.json`.
    pub name: &'static str,
    /// What the file covers.
    pub description: String,
    /// The keys its cases use, by name.
    pub keys: Object,
    /// Its cases, in file order.
    pub cases: Vec<Case>,
}

/// One case: verify `token` with `options` at `now`; the outcome must be
/// `expect`, and for `ok` the claims must equal `claims` when given.
#[derive(Clone, Debug)]
pub struct Case {
    /// The file it comes from.
    pub file: &'static str,
    /// Its name, unique in the file.
    pub name: String,
    /// The token.
    pub token: String,
    /// The options, as `verifyToken` takes them (without `now`).
    pub options: Object,
    /// The time of the check, ms since the epoch.
    pub now: Millis,
    /// `ok` or the error code the check must give.
    pub expect: String,
    /// The claims an `ok` case must give, when the file states them.
    pub claims: Option<Value>,
}

impl Case {
    /// `file/name`, for failure messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.file, self.name)
    }
}

/// Every file, parsed and checked; panics naming the file or case whose
/// format is wrong (a broken vector file is a broken test, not an outcome).
pub fn files() -> Vec<VectorFile> {
    FILES.iter().map(|&(name, text)| load(name, text)).collect()
}

/// Every case of every file, in file order.
pub fn cases() -> Vec<Case> {
    files().into_iter().flat_map(|f| f.cases).collect()
}

fn load(name: &'static str, text: &str) -> VectorFile {
    let doc = json::parse_object(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let description = doc
        .get_str("description")
        .unwrap_or_else(|| panic!("{name}: no description"))
        .to_owned();
    let keys = doc
        .get("keys")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{name}: no keys"))
        .clone();
    let mut names = std::collections::HashSet::new();
    let cases = doc
        .get("cases")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{name}: no cases"))
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let case = case
                .as_object()
                .unwrap_or_else(|| panic!("{name}: case {i} is not an object"));
            let id = case
                .get_str("name")
                .unwrap_or_else(|| panic!("{name}: case {i} has no name"));
            assert!(names.insert(id.to_owned()), "{name}: duplicate case {id}");
            let field = |key: &str| {
                case.get(key)
                    .unwrap_or_else(|| panic!("{name}/{id}: no {key}"))
            };
            let expect = field("expect")
                .as_str()
                .unwrap_or_else(|| panic!("{name}/{id}: expect is not a string"));
            assert!(
                expect == "ok" || ErrorCode::parse(expect).is_some(),
                "{name}/{id}: unknown expect {expect}"
            );
            Case {
                file: name,
                name: id.to_owned(),
                token: field("token")
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}/{id}: token is not a string"))
                    .to_owned(),
                options: field("options")
                    .as_object()
                    .unwrap_or_else(|| panic!("{name}/{id}: options is not an object"))
                    .clone(),
                now: field("now")
                    .as_f64()
                    .unwrap_or_else(|| panic!("{name}/{id}: now is not a number"))
                    as Millis,
                expect: expect.to_owned(),
                claims: case.get("claims").cloned(),
            }
        })
        .collect();
    VectorFile {
        name,
        description,
        keys,
        cases,
    }
}

/// JSON equality with objects compared as sets of members (how a case's
/// `claims` are compared with the claims a runner got).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}

/// JSON text for `v`.
pub fn to_json(v: &Value) -> String {
    let mut s = String::new();
    write_json(&mut s, v, false);
    s
}

/// Appends JSON text for `v`; with `duplicate`, each object repeats its
/// first member (a text a conforming reader must refuse: the fuzzer's use).
pub fn write_json(out: &mut String, v: &Value, duplicate: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format!("{n}")),
        Value::String(s) => json::write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item, duplicate);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            let mut first = true;
            let mut member = |out: &mut String, k: &str, v: &Value| {
                if !first {
                    out.push(',');
                }
                first = false;
                json::write_string(out, k);
                out.push(':');
                write_json(out, v, duplicate);
            };
            for (k, v) in o.iter() {
                member(out, k, v);
            }
            if duplicate {
                if let Some((k, v)) = o.iter().next() {
                    member(out, k, v);
                }
            }
            out.push('}');
        }
    }
}

/// The folder of the vector files (native runners read `keys/` from it).
#[cfg(not(target_arch = "wasm32"))]
pub fn dir() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// A file added to the folder but not to [`FILES`] would run nowhere.
    #[test]
    fn files_lists_every_vector_file() {
        let mut on_disk: Vec<String> = std::fs::read_dir(dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
        assert_eq!(on_disk, listed, "tests/vectors/*.json and FILES differ");
        assert_eq!(
            HMAC_SECRET,
            std::fs::read_to_string(dir().join("keys/hmac-secret.txt")).unwrap()
        );
    }

    #[test]
    fn every_file_loads_and_the_writer_reads_back() {
        let files = files();
        assert!(files.iter().all(|f| !f.cases.is_empty()));
        for case in files.iter().flat_map(|f| &f.cases) {
            let v = Value::Object(case.options.clone());
            let again = json::parse(to_json(&v).as_bytes()).unwrap();
            assert!(same(&v, &again), "{}", case.id());
            let mut dup = String::new();
            write_json(&mut dup, &v, true);
            assert!(
                case.options.is_empty() || json::parse(dup.as_bytes()).is_err(),
                "{}: a duplicate member was read",
                case.id()
            );
        }
    }
}
