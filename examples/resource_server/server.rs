//! The resource server itself (native only: it validates with
//! `chat_auth::jose::Verifier::verify` and `chat_auth::jose::dpop::validate_proof`,
//! which the wasm build does not have).

use chat_auth::jose::dpop::{self, MemoryReplayCache, ProofRequirements};
use chat_auth::jose::{Algorithm, Verifier};
use chat_auth::wire::json;
use chat_auth::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest a connection may stay silent before it is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests larger than this are refused (the API takes no bodies).
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Live proof ids the replay cache holds (5 min of proofs at the tier's rate
/// is a few thousand); when full of live ones it refuses (fail closed).
const REPLAY_CAPACITY: usize = 100_000;

struct Api {
    issuer: String,
    jwks_url: String,
    audience: String,
    page_origin: String,
    /// `dpop` mode: tokens must be DPoP-bound and come with a proof by their key.
    dpop: bool,
    /// This server's own origin: proofs' `htu` must name it.
    origin: String,
    replay: MemoryReplayCache,
    keys: Mutex<Option<(Arc<Verifier>, Instant)>>,
    stats: Mutex<Stats>,
}

#[derive(Default)]
struct Stats {
    requests: u64,
    valid: u64,
    /// Valid requests whose DPoP proof passed `validate_proof`.
    proven: u64,
    /// The thumbprints of the keys those proofs were made with.
    jkts: BTreeSet<String>,
    refused: BTreeMap<&'static str, u64>,
}

/// How a request presented its token.
enum Presented<'a> {
    None,
    Bearer(&'a str),
    /// `Authorization: DPoP <token>` and its `DPoP` proof headers.
    Dpop(&'a str, Vec<&'a str>),
}

/// Serves until the process is stopped.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (issuer, jwks_url, audience, page_origin, dpop) = match args.as_slice() {
        [i, j, a, p] => (i, j, a, p, false),
        [i, j, a, p, mode] if mode == "dpop" => (i, j, a, p, true),
        _ => {
            eprintln!("usage: resource_server <issuer> <jwks_url> <audience> <page_origin> [dpop]");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| {
        eprintln!("resource_server: cannot listen: {e}");
        std::process::exit(1);
    });
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let api = Arc::new(Api {
        issuer: issuer.clone(),
        jwks_url: jwks_url.clone(),
        audience: audience.clone(),
        page_origin: page_origin.clone(),
        dpop,
        origin: format!("http://127.0.0.1:{port}"),
        replay: MemoryReplayCache::new(REPLAY_CAPACITY),
        keys: Mutex::new(None),
        stats: Mutex::new(Stats::default()),
    });
    println!("listening on {}", api.origin);
    let _ = std::io::stdout().flush();
    for stream in listener.incoming().flatten() {
        let api = api.clone();
        std::thread::spawn(move || {
            let _ = serve(&api, stream);
        });
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One connection: requests until the peer closes (keep-alive).
fn serve(api: &Api, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut head = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            head.push(line.trim_end().to_owned());
            if head.iter().map(String::len).sum::<usize>() > MAX_HEAD_BYTES {
                return respond(&mut out, 431, "{}", &[]);
            }
        }
        let Some(request_line) = head.first() else {
            continue;
        };
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let header = |name: &str| {
            head.iter().skip(1).find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let cors = [
            ("Access-Control-Allow-Origin", api.page_origin.clone()),
            (
                "Access-Control-Allow-Headers",
                "authorization, chat-anonymous-id, content-type, dpop".to_owned(),
            ),
            ("Access-Control-Allow-Methods", "GET, OPTIONS".to_owned()),
            (
                "Access-Control-Expose-Headers",
                "WWW-Authenticate".to_owned(),
            ),
        ];
        match (method.as_str(), path.split('?').next().unwrap_or_default()) {
            ("OPTIONS", _) => respond(&mut out, 204, "", &cors)?,
            ("GET", "/stats") => {
                let body = api.stats_json();
                respond(&mut out, 200, &body, &cors)?
            }
            ("GET", "/api/echo") => {
                let authorization = header("authorization");
                let proofs: Vec<&str> = head
                    .iter()
                    .skip(1)
                    .filter_map(|h| {
                        let (k, v) = h.split_once(':')?;
                        k.trim().eq_ignore_ascii_case("dpop").then(|| v.trim())
                    })
                    .collect();
                let presented = match authorization.as_deref() {
                    None => Presented::None,
                    Some(a) => match (a.strip_prefix("Bearer "), a.strip_prefix("DPoP ")) {
                        (Some(token), _) => Presented::Bearer(token),
                        (_, Some(token)) => Presented::Dpop(token, proofs),
                        _ => Presented::None,
                    },
                };
                let url = format!("{}{}", api.origin, path);
                match api.authenticate(&presented, &method, &url) {
                    Ok((sub, exp)) => {
                        let mut body = String::from("{\"sub\":");
                        json::write_string(&mut body, &sub);
                        body.push_str(",\"exp\":");
                        json::write_int(&mut body, exp);
                        body.push('}');
                        respond(&mut out, 200, &body, &cors)?
                    }
                    Err(code) => {
                        let mut headers = cors.to_vec();
                        headers.push((
                            "WWW-Authenticate",
                            if api.dpop {
                                "DPoP error=\"invalid_token\", algs=\"ES256\"".to_owned()
                            } else {
                                "Bearer error=\"invalid_token\"".to_owned()
                            },
                        ));
                        let body = format!("{{\"error\":\"invalid_token\",\"code\":\"{code}\"}}");
                        respond(&mut out, 401, &body, &headers)?
                    }
                }
            }
            _ => respond(&mut out, 404, "{\"error\":\"not found\"}", &cors)?,
        }
    }
}

fn respond(
    out: &mut TcpStream,
    status: u16,
    body: &str,
    headers: &[(&str, String)],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(body.as_bytes())?;
    out.flush()
}

impl Api {
    /// Validates the request's token (and, in `dpop` mode, its proof);
    /// `(sub, exp)` or the chat-auth code.
    fn authenticate(
        &self,
        presented: &Presented,
        method: &str,
        url: &str,
    ) -> Result<(String, i64), &'static str> {
        self.stats.lock().map_err(|_| "internal")?.requests += 1;
        let outcome = match presented {
            Presented::None => Err("not_authenticated"),
            Presented::Bearer(token) => self.verify(token).and_then(|(sub, exp, jkt)| {
                match (jkt, self.dpop) {
                    // RFC 9449 §7.2: a bound token is no bearer token.
                    (Some(_), _) => Err("dpop_bound"),
                    (None, true) => Err(ErrorCode::DpopUnbound.as_str()),
                    (None, false) => Ok((sub, exp, None)),
                }
            }),
            Presented::Dpop(token, proofs) => {
                self.verify(token).and_then(|(sub, exp, jkt)| {
                    let jkt = jkt.ok_or(ErrorCode::DpopUnbound.as_str())?;
                    // RFC 9449 §4.3 step 1: exactly one proof.
                    let [proof] = proofs.as_slice() else {
                        return Err(ErrorCode::DpopInvalid.as_str());
                    };
                    let mut req = ProofRequirements::new(method, url);
                    req.access_token = Some(token);
                    req.bound_jkt = Some(&jkt);
                    let valid = dpop::validate_proof(proof, &req, now_ms(), &self.replay)
                        .map_err(|e| e.code().as_str())?;
                    Ok((sub, exp, Some(valid.jkt)))
                })
            }
        };
        let mut stats = self.stats.lock().map_err(|_| "internal")?;
        match outcome {
            Ok((sub, exp, proven)) => {
                stats.valid += 1;
                if let Some(jkt) = proven {
                    stats.proven += 1;
                    stats.jkts.insert(jkt);
                }
                Ok((sub, exp))
            }
            Err(code) => {
                *stats.refused.entry(code).or_default() += 1;
                Err(code)
            }
        }
    }

    /// The token's `(sub, exp, cnf.jkt)`; an unknown `kid` re-fetches the
    /// JWKS once.
    fn verify(&self, token: &str) -> Result<(String, i64, Option<String>), &'static str> {
        self.verify_with(token, false).or_else(|code| {
            if code == "unknown_key" {
                self.verify_with(token, true)
            } else {
                Err(code)
            }
        })
    }

    fn verify_with(
        &self,
        token: &str,
        refetch: bool,
    ) -> Result<(String, i64, Option<String>), &'static str> {
        let verifier = self.verifier(refetch)?;
        let claims = verifier
            .verify(token, now_ms())
            .map_err(|e| e.code().as_str())?;
        let jkt = dpop::bound_thumbprint(claims.members()).map(str::to_owned);
        Ok((
            claims.sub().unwrap_or_default().to_owned(),
            claims.exp().unwrap_or(0.0) as i64,
            jkt,
        ))
    }

    /// The verifier with the provider's JWKS, cached; `refetch` fetches the
    /// JWKS again (at most once a second).
    fn verifier(&self, refetch: bool) -> Result<Arc<Verifier>, &'static str> {
        let mut keys = self.keys.lock().map_err(|_| "internal")?;
        let fresh = keys
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() < Duration::from_secs(1));
        if keys.is_none() || (refetch && !fresh) {
            let jwks = http_get(&self.jwks_url).map_err(|_| ErrorCode::Network.as_str())?;
            let verifier = Verifier::builder()
                .algorithms([
                    Algorithm::RS256,
                    Algorithm::ES256,
                    Algorithm::PS256,
                    Algorithm::EdDSA,
                ])
                .jwks(&jwks)
                .and_then(|b| {
                    b.issuer(self.issuer.as_str())
                        .audience([self.audience.as_str()])
                        .leeway_seconds(0.0)
                        .build()
                })
                .map_err(|e| e.code().as_str())?;
            *keys = Some((Arc::new(verifier), Instant::now()));
        }
        keys.as_ref().map(|(k, _)| k.clone()).ok_or("internal")
    }

    fn stats_json(&self) -> String {
        let Ok(stats) = self.stats.lock() else {
            return "{}".into();
        };
        let mut s = format!(
            "{{\"requests\":{},\"valid\":{},\"proven\":{},\"jkts\":[",
            stats.requests, stats.valid, stats.proven
        );
        for (i, jkt) in stats.jkts.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json::write_string(&mut s, jkt);
        }
        s.push_str("],\"refused\":{");
        for (i, (code, n)) in stats.refused.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&format!("\"{code}\":{n}"));
        }
        s.push_str("}}");
        s
    }
}

/// A plain-HTTP GET on loopback (the provider in the test tier), whole body.
fn http_get(url: &str) -> std::io::Result<String> {
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "only http://host:port/path",
        )
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let path = if path.is_empty() { "/" } else { path };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.take(1 << 20).read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other("JWKS fetch failed"));
    }
    if head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    }) {
        return Ok(dechunk(body));
    }
    Ok(body.to_owned())
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}
