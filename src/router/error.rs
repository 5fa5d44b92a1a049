//! OpenAI-shaped errors: `{"error": {"message", "type", "param", "code"}}` with the status the
//! OpenAI SDKs map to their exception classes (400 BadRequest, 401 Authentication, 404 NotFound,
//! 413, 429 RateLimit, 5xx APIStatus).

use bytes::Bytes;
use hyper::{Response, StatusCode, header};
use serde_json::json;

use super::Body;

pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), kind, param: None, code: None, retry_after: None }
    }

    pub fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        ApiError { param, ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message) }
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }

    pub fn response(&self) -> Response<Body> {
        let mut r = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(super::full(Bytes::from(self.body().to_string())))
            .expect("valid response");
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, s.into());
        }
        r
    }
}

/// A JSON response (200 unless said otherwise).
pub fn json_response(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(super::full(Bytes::from(v.to_string())))
        .expect("valid response")
}
