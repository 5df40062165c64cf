//! What can go wrong while serving, and how the API reports it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why the server could not start, or a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum CinemaError {
    /// The recording cannot be read.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The address could not be bound or served.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime could not start.
    #[error("cannot start the server's runtime: {0}")]
    Runtime(std::io::Error),
    /// The operating system gave no random bytes for the token.
    #[error("cannot draw a random token from the operating system: {0}")]
    Random(String),
    /// A run the recording does not hold.
    #[error("no run {0} in this recording")]
    NoSuchRun(u64),
    /// A call the run does not hold.
    #[error("run {run} has no call {id}")]
    NoSuchCall {
        /// The run.
        run: u64,
        /// The id asked for.
        id: u64,
    },
    /// A request's parameters are wrong.
    #[error("{0}")]
    BadRequest(String),
    /// A blocking task failed (it panicked).
    #[error("internal error: {0}")]
    Task(String),
}

impl IntoResponse for CinemaError {
    fn into_response(self) -> Response {
        let status = match &self {
            CinemaError::NoSuchRun(_) | CinemaError::NoSuchCall { .. } => StatusCode::NOT_FOUND,
            CinemaError::BadRequest(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}
