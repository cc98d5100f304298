//! The Content-Security-Policy (`server/content-security-policy.txt`, sent
//! by the backend and by `scripts/serve.mjs`) stays strict: every directive
//! allows at most the sources listed here, and the directives that do not
//! fall back to `default-src` are present. Tightening passes; any weakening
//! (a new source, `'unsafe-inline'`, a wildcard, a dropped directive) fails.

use chat_auth_server::CSP;
use std::collections::BTreeMap;

/// The most each directive may allow. Fetch directives missing from the
/// policy fall back to `default-src`, which is held to `'self'`.
const MOST: &[(&str, &[&str])] = &[
    ("default-src", &["'self'"]),
    // WebAssembly compilation, never eval or inline script.
    ("script-src", &["'self'", "'wasm-unsafe-eval'"]),
    ("style-src", &["'self'"]),
    ("img-src", &["'self'", "data:"]),
    ("connect-src", &["'self'"]),
    ("font-src", &["'self'"]),
    ("object-src", &["'none'"]),
    ("base-uri", &["'none'"]),
    ("form-action", &["'self'"]),
    ("frame-ancestors", &["'none'"]),
];

/// Directives with no fallback to `default-src`: absent, they allow anything.
const REQUIRED: &[&str] = &[
    "default-src",
    "script-src",
    "object-src",
    "base-uri",
    "form-action",
    "frame-ancestors",
];

/// `Err` with the reason when `policy` allows more than [`MOST`] or lacks a
/// [`REQUIRED`] directive.
fn check(policy: &str) -> Result<(), String> {
    if !policy.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(format!(
            "not one line of visible ASCII (a header value): {policy:?}"
        ));
    }
    let mut directives = BTreeMap::new();
    for part in policy.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_ascii_whitespace();
        let name = words.next().unwrap_or_default().to_ascii_lowercase();
        let sources: Vec<&str> = words.collect();
        if directives.insert(name.clone(), sources).is_some() {
            return Err(format!("{name} appears twice"));
        }
    }
    for name in REQUIRED {
        if !directives.contains_key(*name) {
            return Err(format!("{name} is missing"));
        }
    }
    let default = MOST[0].1;
    for (name, sources) in &directives {
        let most = MOST
            .iter()
            .find(|(n, _)| n == name)
            .map_or(default, |(_, m)| *m);
        for s in sources {
            // 'none' alone allows nothing; next to other sources it is ignored.
            let allowed = most.contains(s) || (*s == "'none'" && sources.len() == 1);
            if !allowed {
                return Err(format!("{name} allows {s}, more than {most:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_csp_allows_no_more_than_its_strict_policy() {
    if let Err(why) = check(CSP) {
        panic!("the CSP is weaker than it must be: {why}\n{CSP}");
    }
}

#[test]
fn the_strictness_check_catches_a_weakened_policy() {
    // The check above, on policies that each weaken one thing.
    let weakened = [
        CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"),
        CSP.replace("connect-src 'self'", "connect-src *"),
        CSP.replace("; frame-ancestors 'none'", ""),
        CSP.replace("object-src 'none'", "object-src 'none' 'self'"),
        format!("{CSP}; worker-src https:"),
        format!("{CSP}\r\nSet-Cookie: x"),
    ];
    for policy in weakened {
        assert_ne!(policy, CSP, "the weakening applies to the current policy");
        assert!(check(&policy).is_err(), "a weakened CSP passed: {policy}");
    }
}
