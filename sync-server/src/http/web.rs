//! Serves the built web app at `/`, or, when it has not been built, a page
//! that says how to build it (never a bare 404).

use axum::Router;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};

use super::AppState;

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fieldvisit: app not built</title></head>
<body><main><h1>Fieldvisit sync server is running</h1>
<p>The web app has not been built, so there is nothing to show here yet.
Build it as README.md describes, then restart the server.</p>
<p>The sync endpoint is <code>/sync</code>; health is at <a href="/health">/health</a>.</p></main></body></html>"#;

pub fn router(state: &AppState) -> Router<AppState> {
    match &state.web_dir {
        Some(dir) if dir.join("index.html").is_file() => Router::new().fallback_service(
            // `scripts/build-web` writes a brotli and a gzip copy beside
            // each file: a phone that accepts them downloads the app at
            // about a quarter of its size (the wasm: 7.5 MB, 2.0 MB brotli).
            ServeDir::new(dir)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(
                    ServeFile::new(dir.join("index.html"))
                        .precompressed_br()
                        .precompressed_gzip(),
                ),
        ),
        _ => Router::new()
            .route("/", get(|| async { (StatusCode::OK, Html(NOT_BUILT)) }))
            .fallback(|| async { crate::error::Error::NotFound("this address".into()) }),
    }
}
