//! Static files: the demo pages (`www/` at `/`) and the npm package's build
//! (`pkg/` at `/pkg/`), GET and HEAD only, no directory listing, no path
//! outside those folders.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "ts" | "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Maps a URL path to a file: every segment is a plain name (letters,
/// digits, `. - _`, not starting with `.`), so nothing escapes the roots.
pub fn resolve(www: &Path, pkg: &Path, url_path: &str) -> Option<PathBuf> {
    let (root, rest) = match url_path.strip_prefix("/pkg/") {
        Some(rest) => (pkg, rest),
        None => (www, url_path.strip_prefix('/')?),
    };
    let rest = if rest.is_empty() || rest.ends_with('/') {
        format!("{rest}index.html")
    } else {
        rest.to_owned()
    };
    let mut path = root.to_path_buf();
    for seg in rest.split('/') {
        let plain = !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'));
        if !plain {
            return None;
        }
        path.push(seg);
    }
    Some(path)
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// The fallback handler: a static file, or 404 / 405.
pub async fn serve(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "method not allowed\n",
        )
            .into_response();
    }
    let Some(path) = resolve(
        &state.config.www_dir,
        &state.config.pkg_dir,
        req.uri().path(),
    ) else {
        return not_found();
    };
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(_) => return not_found(),
    };
    let mut res = if head {
        let mut r = StatusCode::OK.into_response();
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        r
    } else {
        bytes.into_response()
    };
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_roots() {
        let (w, p) = (Path::new("/w"), Path::new("/p"));
        assert_eq!(resolve(w, p, "/"), Some(PathBuf::from("/w/index.html")));
        assert_eq!(
            resolve(w, p, "/pkg/chat_auth.js"),
            Some(PathBuf::from("/p/chat_auth.js"))
        );
        assert_eq!(
            resolve(w, p, "/pkg/snippets/x-1/js/error.js"),
            Some(PathBuf::from("/p/snippets/x-1/js/error.js"))
        );
        for bad in [
            "/../etc/passwd",
            "/pkg/../x",
            "/.git/config",
            "/a//b",
            "/a%2fb",
            "x",
        ] {
            assert_eq!(resolve(w, p, bad), None, "{bad}");
        }
    }
}
