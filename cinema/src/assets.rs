//! The page: plain HTML, CSS and JavaScript written for it, embedded in the binary (nothing
//! is fetched at run time, no CDN).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `index.html`.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// `app.css`.
pub const APP_CSS: &str = include_str!("../assets/app.css");
/// `app.js`.
pub const APP_JS: &str = include_str!("../assets/app.js");

/// The page.
pub async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}

/// The style sheet.
pub async fn css() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS).into_response()
}

/// The script.
pub async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}
