//! The secret every request must carry: recordings hold arguments, and any local user or any
//! web page the browser opens can reach a port on 127.0.0.1.
//!
//! The server draws 32 bytes from the operating system's random source at start and prints
//! the URL `http://127.0.0.1:PORT/?token=HEX`. A request is let through when it carries the
//! token as that `token` query parameter, as the cookie `elixir_scope_token` (set, `HttpOnly`
//! and `SameSite=Strict`, on the first request that brought it in the query, so the page's
//! own requests need not repeat it), or as the header `X-Elixir-Scope-Token` (for scripts).
//! Anything else gets 403. Every answer forbids caching and framing.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::CinemaError;

/// The cookie that keeps the token after the first request.
pub const COOKIE: &str = "elixir_scope_token";

/// The header scripts may send the token in.
pub const HEADER: &str = "x-elixir-scope-token";

/// A random secret, as 64 hex digits.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A new token from the operating system's random source.
    pub fn generate() -> Result<Token, CinemaError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| CinemaError::Random(e.to_string()))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The token's text, for the URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the token, compared in constant time.
    pub fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Where a request carried the token, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carried {
    Query,
    Cookie,
    Header,
}

fn carried(token: &Token, request: &Request) -> Option<Carried> {
    let query = request.uri().query().unwrap_or("");
    if query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("token="))
        .any(|given| token.matches(given))
    {
        return Some(Carried::Query);
    }
    let headers = request.headers();
    if headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| token.matches(v))
    {
        return Some(Carried::Header);
    }
    let in_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(|given| token.matches(given));
    in_cookie.then_some(Carried::Cookie)
}

/// The middleware: 403 without the token; the cookie set when the token came in the query;
/// headers that keep answers out of caches and frames.
pub async fn guard(State(token): State<Token>, request: Request, next: Next) -> Response {
    let Some(how) = carried(&token, &request) else {
        let mut response = (
            StatusCode::FORBIDDEN,
            "403 Forbidden: open the URL that elixir-scope serve printed (it carries the token)\n",
        )
            .into_response();
        protect(&mut response);
        return response;
    };
    let mut response = next.run(request).await;
    if how == Carried::Query {
        let cookie = format!(
            "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
            token.as_str()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    protect(&mut response);
    response
}

fn protect(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_compare_exactly() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(&a.as_str()[..63]));
        assert!(!a.matches(""));
    }
}
