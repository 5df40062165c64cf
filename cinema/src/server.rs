//! The server: a Tokio runtime, a listener on the loopback interface, the routes.
//!
//! axum on Tokio (well kept, small, and what the Rust ecosystem serves HTTP with); every
//! request passes [`crate::token::guard`] first. Store reads block (redb, zstd), so handlers
//! run them on Tokio's blocking pool ([`blocking`]) and the event loop never waits on a disk.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use store::StoreReader;

use crate::error::CinemaError;
use crate::timeline::Timelines;
use crate::token::Token;

/// How to serve.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The run the page opens first (the latest when `None`).
    pub run: Option<u64>,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The recording.
    pub reader: Arc<StoreReader>,
    /// Timelines built so far.
    pub timelines: Arc<Timelines>,
    /// The run the page opens first.
    pub default_run: Option<u64>,
}

/// Runs `f` on Tokio's blocking pool (store reads block).
pub async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, CinemaError> + Send + 'static,
) -> Result<R, CinemaError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CinemaError::Task(e.to_string()))?
}

/// The routes, behind the token.
pub fn router(state: AppState, token: Token) -> Router {
    let api = crate::api::routes();
    Router::new()
        .route("/", get(crate::assets::index))
        .route("/app.css", get(crate::assets::css))
        .route("/app.js", get(crate::assets::js))
        .merge(api)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            token,
            crate::token::guard,
        ))
}

/// Serves the recording `reader` reads on 127.0.0.1 until the process ends; `announce` is
/// given the URL (with its token) once the port is bound.
pub fn serve(
    reader: StoreReader,
    options: &ServeOptions,
    announce: impl FnOnce(&str),
) -> Result<(), CinemaError> {
    let token = Token::generate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CinemaError::Runtime)?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    let state = AppState {
        reader: Arc::new(reader),
        timelines: Arc::new(Timelines::default()),
        default_run: options.run,
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|source| CinemaError::Listen {
                address: address.to_string(),
                source,
            })?;
        let bound = listener
            .local_addr()
            .map_err(|source| CinemaError::Listen {
                address: address.to_string(),
                source,
            })?;
        let mut url = format!("http://{bound}/?token={}", token.as_str());
        if let Some(run) = options.run {
            url.push_str(&format!("#/runs/{run}"));
        }
        announce(&url);
        axum::serve(listener, router(state, token))
            .await
            .map_err(|source| CinemaError::Listen {
                address: bound.to_string(),
                source,
            })
    })
}
