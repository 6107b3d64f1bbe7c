//! The one shape of an HTTP error answer: JSON `{"code", "message"}` with a
//! stable snake_case `code`. A leaf module, so every route module can use it
//! without naming the router.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// A JSON error body: a stable `code` and a human-readable `message`.
#[derive(Debug, serde::Serialize)]
struct ApiError {
    code: &'static str,
    message: String,
}

/// An error answer with this status, stable code and message.
pub fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            code,
            message: message.into(),
        }),
    )
        .into_response()
}
