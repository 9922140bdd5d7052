//! Serves the built web app at `/`, or, when it has not been built, a page
//! that says how to build it (never a bare 404).

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{Html, Response};
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
        Some(dir) if dir.join("index.html").is_file() => Router::new()
            .fallback_service(
                // `scripts/build-web` writes a brotli and a gzip copy beside
                // each file: a phone that accepts them downloads the app at
                // about a quarter of its size.
                ServeDir::new(dir)
                    .precompressed_br()
                    .precompressed_gzip()
                    .fallback(
                        ServeFile::new(dir.join("index.html"))
                            .precompressed_br()
                            .precompressed_gzip(),
                    ),
            )
            .layer(middleware::map_response(keep_but_revalidate)),
        _ => Router::new()
            .route("/", get(|| async { (StatusCode::OK, Html(NOT_BUILT)) }))
            .fallback(|| async { crate::error::Error::NotFound("this address".into()) }),
    }
}

/// The app's files keep their names from build to build, so the browser may
/// keep them but must ask whether they changed before using them again
/// (`Last-Modified`, answered 304 with no body). That is what lets the
/// service worker fill its cache from what the page has just downloaded
/// instead of downloading the app a second time (`assets/sw.js`), while a
/// new build is never mixed with an old one.
async fn keep_but_revalidate(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    response
}
