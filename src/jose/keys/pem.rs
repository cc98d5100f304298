//! PEM blocks: `PUBLIC KEY`, `RSA PUBLIC KEY` and `CERTIFICATE`, read into
//! key material through the [`super::der`] reader.

use super::der::{certificate_spki, rsa_public_key, single, spki_material, Problem, TAG_SEQUENCE};
use super::material::{KeyMaterial, VerifyingKey};
use crate::error::{Error, Result};
use crate::wire::{base64url, find};

impl VerifyingKey {
    /// A key from one PEM block: `PUBLIC KEY` (SubjectPublicKeyInfo),
    /// `RSA PUBLIC KEY` (PKCS#1) or `CERTIFICATE` (X.509; its
    /// SubjectPublicKeyInfo is used). Supported: RSA (rsaEncryption or
    /// id-RSASSA-PSS, 2048–4096 bits), EC P-256 / P-384 (uncompressed
    /// points), Ed25519. Anything else, a private key, or more than one
    /// block is `invalid_config`.
    pub fn from_pem(pem: &str, option: &str) -> Result<VerifyingKey> {
        let material =
            pem_material(pem).map_err(|problem| Error::invalid_config(option, problem))?;
        VerifyingKey::new(material, option)
    }

    /// A key from a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8], option: &str) -> Result<VerifyingKey> {
        let material = single(der, TAG_SEQUENCE)
            .and_then(spki_material)
            .map_err(|problem| Error::invalid_config(option, problem))?;
        VerifyingKey::new(material, option)
    }
}

fn pem_material(pem: &str) -> Problem<KeyMaterial> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let text = pem.trim_matches(|c: char| c.is_ascii_whitespace());
    let rest = text.strip_prefix(BEGIN).ok_or("is not a PEM block")?;
    // Found and cut on the bytes: the needles are ASCII, so every cut is at
    // a char boundary (and `str::find(&str)`'s searcher stays out of wasm).
    let (label, rest) = split_around(rest, DASHES).ok_or("is not a PEM block")?;
    if find(label.as_bytes(), b"PRIVATE").is_some() {
        return Err("holds a private key; pass the public key or certificate");
    }
    let (body, end) = split_around(rest, "-----END ").ok_or("is not a PEM block")?;
    let end = end.strip_prefix(label).ok_or("is not a PEM block")?;
    if end != DASHES {
        return Err("must hold exactly one PEM block");
    }
    let der = base64_standard(body).ok_or("is not a PEM block (bad base64)")?;
    match label {
        "PUBLIC KEY" => spki_material(single(&der, TAG_SEQUENCE)?),
        "RSA PUBLIC KEY" => rsa_public_key(single(&der, TAG_SEQUENCE)?),
        "CERTIFICATE" => {
            let spki = certificate_spki(single(&der, TAG_SEQUENCE)?)?;
            spki_material(spki)
        }
        _ => Err("must be a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE PEM block"),
    }
}

/// The text before and after the first `needle` in `text`.
fn split_around<'a>(text: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let at = find(text.as_bytes(), needle.as_bytes())?;
    Some((text.get(..at)?, text.get(at + needle.len()..)?))
}

/// Decodes standard base64 (RFC 4648 §4) with padding, ignoring ASCII
/// whitespace (PEM line breaks). `None` on anything else. Spelled as base64url
/// and read by [`base64url::decode`], so one decoder (and its checks: alphabet,
/// zero unused bits) serves tokens and PEM alike.
pub(super) fn base64_standard(text: &str) -> Option<Vec<u8>> {
    let mut chars = Vec::with_capacity(text.len());
    for c in text.bytes() {
        match c {
            b'+' => chars.push(b'-'),
            b'/' => chars.push(b'_'),
            b'-' | b'_' => return None,
            c if c.is_ascii_whitespace() => {}
            c => chars.push(c),
        }
    }
    if chars.is_empty() || !chars.len().is_multiple_of(4) {
        return None;
    }
    let pad = chars.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return None;
    }
    chars.truncate(chars.len() - pad);
    // An `=` anywhere else is outside the alphabet: decode refuses it.
    base64url::decode(&chars)
}
