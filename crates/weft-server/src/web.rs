//! The web application: static files under `/ui/...`, and `index.html` for a browser asking for a page.
//!
//! The files in `crates/weft-server/web/` are embedded at compile time (`build.rs` generates the table),
//! so the binary serves the UI offline with nothing beside it. For development, `WEFT_WEB_DIR` names a
//! directory to serve from instead, read on every request, so JS and CSS edits need no rebuild.
//!
//! The list of pages lives in one place, the front end's router (`web/app.js`): the server does not
//! know which page URLs exist. A `GET` no other route answers, outside the paths the server owns
//! ([`SERVER_PATHS`]), from a client that accepts `text/html` (a browser navigating) gets `index.html`
//! and the router renders the page, or its "page not found" view; every other unmatched request gets
//! the API's JSON 404. So deep links and reloads work, and API clients never get HTML by mistake.
//!
//! URLs carry no version, so every answer has a strong `ETag` (a hash of the bytes) and
//! `Cache-Control: no-cache`: browsers revalidate each time and get `304 Not Modified` while nothing
//! changed, which on loopback costs less than a stale page after an upgrade.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::{ApiError, ErrorCode};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// The environment variable naming a directory to serve the UI from instead of the embedded copy.
pub const WEB_DIR_ENV: &str = "WEFT_WEB_DIR";

/// The URL prefix of the static files.
pub const PREFIX: &str = "/ui/";

/// The first path segments the server's own routes live under (the REST API, the registry, ksqlDB's
/// API, health, metrics and the UI's files): a miss below them is the JSON 404, never a page.
pub const SERVER_PATHS: &[&str] = &[
    "api",
    "registry",
    "ui",
    "ksql",
    "query",
    "query-stream",
    "close-query",
    "inserts-stream",
    "info",
    "healthcheck",
    "health",
    "metrics",
];

/// Where the files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSource {
    /// The copy compiled into the binary.
    Embedded,
    /// A directory read on every request (development).
    Disk(PathBuf),
}

impl WebSource {
    /// [`WEB_DIR_ENV`] when set and not empty, else the embedded files.
    pub fn from_env() -> WebSource {
        match std::env::var_os(WEB_DIR_ENV) {
            Some(dir) if !dir.is_empty() => WebSource::Disk(PathBuf::from(dir)),
            _ => WebSource::Embedded,
        }
    }
}

/// The UI's routes: `/ui/{*path}`, and as the fallback of every other route, `index.html` for a page
/// request ([`is_page_request`]) or the JSON 404.
pub fn routes<S: Clone + Send + Sync + 'static>(source: WebSource) -> Router<S> {
    let source = Arc::new(source);
    let assets = source.clone();
    Router::new()
        .route(
            "/ui/{*path}",
            get(move |request: Request| {
                let assets = assets.clone();
                async move {
                    let path = request.uri().path().strip_prefix(PREFIX).unwrap_or_default().to_string();
                    serve(&assets, &path, request).await
                }
            }),
        )
        .fallback(move |request: Request| {
            let source = source.clone();
            async move {
                if is_page_request(&request) {
                    serve(&source, "index.html", request).await
                } else {
                    route_not_found(&request).into_response()
                }
            }
        })
}

/// Whether `request` is a browser asking for a page: a `GET` (or `HEAD`) that accepts `text/html`,
/// for a path outside [`SERVER_PATHS`].
pub fn is_page_request(request: &Request) -> bool {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return false;
    }
    let first = request.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default();
    if SERVER_PATHS.contains(&first) {
        return false;
    }
    request.headers().get_all(ACCEPT).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|range| range.split(';').next().is_some_and(|media| media.trim() == "text/html"))
    })
}

fn route_not_found(request: &Request) -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound, format!("no route for {} {}", request.method(), request.uri().path()))
}

/// The embedded files by path, with their ETags, computed once.
fn embedded_files() -> &'static HashMap<&'static str, (&'static [u8], String)> {
    static FILES: OnceLock<HashMap<&'static str, (&'static [u8], String)>> = OnceLock::new();
    FILES.get_or_init(|| embedded::ASSETS.iter().map(|(path, bytes)| (*path, (*bytes, etag(bytes)))).collect())
}

/// The paths of the embedded files (what the binary serves without `WEFT_WEB_DIR`).
pub fn embedded_paths() -> impl Iterator<Item = &'static str> {
    embedded::ASSETS.iter().map(|(path, _)| *path)
}

async fn serve(source: &WebSource, raw_path: &str, request: Request) -> Response {
    let path = match decode_path(raw_path) {
        Ok(path) => path,
        Err(reason) => {
            return ApiError::invalid(format!("invalid UI file path {raw_path:?}: {reason}")).into_response()
        }
    };
    let found = match source {
        WebSource::Embedded => {
            embedded_files().get(path.as_str()).map(|(bytes, tag)| (Body::from(*bytes), tag.clone()))
        }
        WebSource::Disk(root) => {
            let root = root.clone();
            let relative = path.clone();
            match tokio::task::spawn_blocking(move || read_from_disk(&root, &relative)).await {
                Ok(Some(bytes)) => {
                    let tag = etag(&bytes);
                    Some((Body::from(bytes), tag))
                }
                _ => None,
            }
        }
    };
    let Some((body, tag)) = found else {
        return ApiError::new(ErrorCode::RouteNotFound, format!("no UI file {PREFIX}{path}")).into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(ETAG, value);
    }
    if path == "index.html" {
        // The UI builds the DOM with text nodes only; this keeps any slip from running injected script.
        headers.insert(
            axum::http::header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                 connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
        );
    }
    if matches_etag(request.headers(), &tag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, body).into_response()
}

/// The percent-decoded path of a file below the web root, or why it is refused: no `..`, `.`, empty or
/// hidden segments, no backslashes or NUL, so it can name nothing outside the root.
fn decode_path(raw: &str) -> Result<String, &'static str> {
    let decoded = percent_decode(raw).ok_or("bad percent-encoding")?;
    if decoded.is_empty() {
        return Err("empty");
    }
    if decoded.contains('\\') || decoded.contains('\0') {
        return Err("backslashes and NUL are not allowed");
    }
    for segment in decoded.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return Err("empty, '.', '..' and hidden segments are not allowed");
        }
    }
    Ok(decoded)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
pub(crate) fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads `relative` below `root`; `None` when missing, not a file, or (through a symlink) outside the root.
fn read_from_disk(root: &Path, relative: &str) -> Option<Vec<u8>> {
    let joined = root.join(relative);
    if joined.components().any(|c| matches!(c, Component::ParentDir)) {
        return None;
    }
    let root = root.canonicalize().ok()?;
    let file = joined.canonicalize().ok()?;
    if !file.starts_with(&root) || !file.is_file() {
        return None;
    }
    std::fs::read(file).ok()
}

/// A strong ETag: FNV-1a (64 bits) of the bytes and their length, quoted.
fn etag(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{hash:016x}-{:x}\"", bytes.len())
}

/// RFC 9110 13.1.2: `If-None-Match` is `*` or a list of entity tags, compared weakly.
fn matches_etag(headers: &HeaderMap, tag: &str) -> bool {
    headers.get_all(IF_NONE_MATCH).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').map(str::trim).any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
    })
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_leave_the_root_are_refused() {
        for bad in ["../Cargo.toml", "lib/../../x", "%2e%2e/x", "a//b", ".hidden", "a\\b", "%00", "%zz", ""] {
            assert!(decode_path(bad).is_err(), "{bad} was accepted");
        }
        assert_eq!(decode_path("pages/explore.js"), Ok("pages/explore.js".to_string()));
        assert_eq!(decode_path("a%20b.css"), Ok("a b.css".to_string()));
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let tag = etag(b"hello");
        let mut headers = HeaderMap::new();
        assert!(!matches_etag(&headers, &tag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_str(&format!("\"x\", W/{tag}")).unwrap());
        assert!(matches_etag(&headers, &tag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches_etag(&headers, &tag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!matches_etag(&headers, &tag));
        assert_ne!(etag(b"hello"), etag(b"hellp"));
    }
}
