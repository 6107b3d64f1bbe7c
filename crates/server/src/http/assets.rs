//! The browser demo client (the workspace's `assets/` folder), served over
//! HTTP at `/` and every path the other routes do not claim, and the
//! JavaScript client package it imports (`clients/js/src/`, the
//! `tickroom-client` package's modules) at `/client/`, so a page served by
//! this server gets the client that speaks this server's protocol.
//!
//! The files are compiled into the binary with `rust-embed` (its `debug-embed`
//! feature embeds in debug builds too), so an installed `tickroom` serves the
//! game without the source tree. `assets/test/` is left out, as are the
//! package's `.d.ts` declarations. The crate reaches both folders through
//! symlinks of its own, `crates/server/assets` to `../../assets` and
//! `crates/server/client-js` to `../../clients/js/src`: paths inside the
//! crate, so `cargo package` (which copies the files a symlink leads to)
//! ships them in the published crate and a studio's `tickroom::serve` serves
//! them too. For editing the demo without rebuilding,
//! `--assets-dir` / `TICKROOM_ASSETS_DIR` serves a directory from disk
//! instead; `/client/` then comes from that directory's `client/` when it has
//! the file, else from the embedded package.
//!
//! Only GET and HEAD, only paths made of `A-Z a-z 0-9 - _ .` segments that do
//! not start with a dot (so no `..`, no percent-escapes, no dotfiles), and only
//! outside `test/`. `/` and any path ending in `/` mean its `index.html`.
//! Embedded files carry a strong `ETag` (their SHA-256) and `Cache-Control:
//! no-cache`, so browsers revalidate cheaply; files from disk are `no-store`.

use std::{
    borrow::Cow,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

use crate::state::Shared;

/// The demo client as compiled into the binary.
#[derive(RustEmbed)]
#[folder = "assets/"]
#[exclude = "test/*"]
#[exclude = ".*"]
#[exclude = "*/.*"]
struct Embedded;

/// The `tickroom-client` package's modules as compiled into the binary.
#[derive(RustEmbed)]
#[folder = "client-js/"]
#[include = "*.js"]
#[exclude = ".*"]
struct EmbeddedClient;

/// Where the package's modules are served: `/client/<module>.js`.
pub const CLIENT_PREFIX: &str = "client/";

/// The `Content-Type` for a file name, by extension. ES modules must be served
/// with a JavaScript type or browsers refuse to run them.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The asset a request path names (`/` and `dir/` mean `index.html`), or
/// `None` for a path that is not a public asset name.
pub fn asset_path(request_path: &str) -> Option<String> {
    let rel = request_path.strip_prefix('/')?;
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_owned()
    };
    let segments_ok = rel.split('/').all(|seg| {
        !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    let public = !(rel == "test" || rel.starts_with("test/"));
    (segments_ok && public).then_some(rel)
}

/// One file to send.
#[derive(Debug)]
pub struct Asset {
    /// The file's bytes.
    pub body: Cow<'static, [u8]>,
    /// Strong validator for embedded files (quoted hex of the SHA-256 prefix).
    pub etag: Option<String>,
}

/// The embedded copy of `rel` (as returned by [`asset_path`]): under
/// [`CLIENT_PREFIX`] a module of the client package, else a demo file.
pub fn embedded(rel: &str) -> Option<Asset> {
    let file = match rel.strip_prefix(CLIENT_PREFIX) {
        Some(module) => EmbeddedClient::get(module)?,
        None => Embedded::get(rel)?,
    };
    let hash = file.metadata.sha256_hash();
    let etag = hash.iter().take(16).fold(String::from("\""), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    }) + "\"";
    Some(Asset {
        body: file.data,
        etag: Some(etag),
    })
}

/// Every embedded file's path (the package's under [`CLIENT_PREFIX`]), sorted.
pub fn embedded_paths() -> Vec<String> {
    let mut paths: Vec<String> = Embedded::iter()
        .map(Cow::into_owned)
        .chain(EmbeddedClient::iter().map(|m| format!("{CLIENT_PREFIX}{m}")))
        .collect();
    paths.sort();
    paths
}

/// `rel` read from `dir` (dev mode), refusing anything that resolves outside it.
pub fn from_dir(dir: &Path, rel: &str) -> Option<Asset> {
    let root = dir.canonicalize().ok()?;
    let path = root.join(rel).canonicalize().ok()?;
    if !path.starts_with(&root) || !path.is_file() {
        return None;
    }
    let body = std::fs::read(&path).ok()?;
    Some(Asset {
        body: Cow::Owned(body),
        etag: None,
    })
}

/// The asset `rel` (as [`asset_path`] returns it): from `dir` when serving
/// one (the client package falls back to the embedded copy), else embedded.
async fn find(dir: Option<PathBuf>, rel: String) -> Option<Asset> {
    let Some(dir) = dir else {
        return embedded(&rel);
    };
    let from_disk = {
        let rel = rel.clone();
        tokio::task::spawn_blocking(move || from_dir(&dir, &rel))
            .await
            .ok()
            .flatten()
    };
    from_disk.or_else(|| {
        rel.starts_with(CLIENT_PREFIX)
            .then(|| embedded(&rel))
            .flatten()
    })
}

/// The fallback route: serves the demo client's files.
pub async fn serve(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let Some(rel) = asset_path(uri.path()) else {
        return not_found();
    };
    let dir: Option<PathBuf> = shared.config.assets_dir.clone();
    let Some(asset) = find(dir.clone(), rel.clone()).await else {
        // A folder named without its slash (`/skirmish`): where its page is.
        if !uri.path().ends_with('/') && find(dir, format!("{rel}/index.html")).await.is_some() {
            let query = uri.query().map_or(String::new(), |q| format!("?{q}"));
            let location = format!("{}/{query}", uri.path());
            if let Ok(location) = HeaderValue::from_str(&location) {
                return (
                    StatusCode::PERMANENT_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response();
            }
        }
        return not_found();
    };
    let cache = if asset.etag.is_some() {
        "no-cache"
    } else {
        "no-store"
    };
    let mut resp = if let Some(etag) = &asset.etag
        && headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, content_type(&rel))],
            match asset.body {
                Cow::Borrowed(b) => axum::body::Body::from(b),
                Cow::Owned(b) => axum::body::Body::from(b),
            },
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(etag) = asset.etag
        && let Ok(v) = HeaderValue::from_str(&etag)
    {
        h.insert(header::ETAG, v);
    }
    resp
}

fn not_found() -> Response {
    crate::http::http_error::error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such page; the demo client is at /",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_assets() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
    }

    fn workspace_client() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("client-js")
    }

    #[test]
    fn request_paths_map_to_public_asset_names_only() {
        assert_eq!(asset_path("/").as_deref(), Some("index.html"));
        assert_eq!(asset_path("/main.js").as_deref(), Some("main.js"));
        assert_eq!(asset_path("/img/").as_deref(), Some("img/index.html"));
        for bad in [
            "",
            "/..",
            "/../Cargo.toml",
            "/a/../../etc/passwd",
            "/.git/config",
            "/%2e%2e/x",
            "/a//b",
            "/test/vectors.json",
            "/test",
            "/a\\b",
            "/é.js",
        ] {
            assert_eq!(asset_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("a/b.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    /// Every file under `root` (relative, `/`-separated), leaving out
    /// dotfiles and what `skip` says.
    fn files_under(root: &Path, skip: impl Fn(&str) -> bool) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir") {
                let path = entry.expect("dir entry").path();
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                if skip(&rel) || rel.split('/').any(|s| s.starts_with('.')) {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    found.push(rel);
                }
            }
        }
        found
    }

    /// The embedded set is exactly the public files on disk, byte for byte:
    /// the demo's (`assets/` but `test/`) and the client package's modules
    /// (`clients/js/src/*.js` at `client/`). Adding a file without a rebuild
    /// of this crate leaves it out of the binary (rust-embed tracks the
    /// files it saw, not the folder): this test then says so.
    #[test]
    fn embedded_files_are_the_public_files_on_disk() {
        let root = workspace_assets();
        let client = workspace_client();
        let mut on_disk = files_under(&root, |rel| rel == "test");
        assert!(
            !on_disk.iter().any(|p| p.starts_with(CLIENT_PREFIX)),
            "assets/client/ would shadow the client package served at /client/"
        );
        let modules = files_under(&client, |rel| !rel.ends_with(".js") || rel.contains('/'));
        on_disk.extend(modules.iter().map(|m| format!("{CLIENT_PREFIX}{m}")));
        on_disk.sort();
        assert_eq!(
            embedded_paths(),
            on_disk,
            "the binary's embedded assets differ from assets/ and clients/js/src/ on disk: \
             rebuild the server (build.rs reruns on any change under either)"
        );
        for rel in &on_disk {
            let path = match rel.strip_prefix(CLIENT_PREFIX) {
                Some(m) => client.join(m),
                None => root.join(rel),
            };
            let disk = std::fs::read(path).expect("read asset");
            let asset = embedded(rel).expect("embedded");
            assert!(asset.body.as_ref() == disk.as_slice(), "{rel} differs");
            assert!(asset.etag.is_some());
            assert_eq!(
                asset_path(&format!("/{rel}")).as_deref(),
                Some(rel.as_str())
            );
        }
        for required in [
            "index.html",
            "main.js",
            "client/index.js",
            "client/protocol.js",
            "arena.js",
            "client/client.js",
        ] {
            assert!(on_disk.iter().any(|p| p == required), "{required} missing");
        }
        assert!(
            embedded("client/index.d.ts").is_none(),
            "declarations are for the npm package, not served"
        );
    }

    #[test]
    fn dev_mode_reads_from_disk_but_not_outside_the_directory() {
        let dir = workspace_assets();
        let index = from_dir(&dir, "index.html").expect("index.html from disk");
        assert!(index.etag.is_none());
        assert!(index.body.starts_with(b"<!doctype html>"));
        assert!(from_dir(&dir, "../Cargo.toml").is_none());
        assert!(from_dir(&dir, "missing.js").is_none());
        assert!(
            from_dir(&dir, "test").is_none(),
            "directories are not files"
        );
    }
}
