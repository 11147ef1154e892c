//! Reading a JSON request body: content type required, size capped while reading, time capped
//! too (a body that trickles in is 408 after `server.body_timeout_ms`), and parse errors that
//! name the field (or the line and column of a syntax error).

use std::time::Duration;

use actix_web::{HttpRequest, web};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::domain::FieldError;

/// How much of a body, and how slowly, a route accepts.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// From the moment the handler starts reading.
    pub timeout: Duration,
}

/// Read the body of `request` as JSON into `T`, refusing more than `limits.max_bytes` bytes
/// or a body that takes longer than `limits.timeout` to arrive.
pub async fn json_body<T: DeserializeOwned>(
    request: &HttpRequest,
    payload: web::Payload,
    limits: &BodyLimits,
) -> Result<T, ApiError> {
    if !is_json(request) {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse(&bytes(request, payload, limits).await?)
}

/// The whole body of `request`, whatever its type, within `limits`.
pub async fn bytes(
    request: &HttpRequest,
    payload: web::Payload,
    limits: &BodyLimits,
) -> Result<BytesMut, ApiError> {
    tokio::time::timeout(limits.timeout, read(request, payload, limits.max_bytes))
        .await
        .map_err(|_| ApiError::RequestTimeout {
            after_ms: u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
        })?
}

/// The whole body, refusing more than `limit` bytes.
async fn read(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, ApiError> {
    let declared = request
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| ApiError::InvalidJson {
            message: format!("the body could not be read ({err})"),
            line: 0,
            column: 0,
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parse JSON into `T`, naming the field of a shape error.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Plainly first (tracking the path costs on every value); a failure is parsed again,
    // tracked, to name its field.
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = match T::deserialize(&mut deserializer) {
        Ok(value) => value,
        Err(_) => {
            deserializer = serde_json::Deserializer::from_slice(body);
            serde_path_to_error::deserialize(&mut deserializer).map_err(shape_error)?
        }
    };
    deserializer.end().map_err(|err| ApiError::InvalidJson {
        message: err.to_string(),
        line: err.line(),
        column: err.column(),
    })?;
    Ok(value)
}

/// Deserialize an already-parsed JSON value into `T`, naming the field of a shape error.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        ApiError::InvalidField(field_error(path, &err.into_inner().to_string()))
    })
}

fn shape_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            ApiError::InvalidField(field_error(path, &strip_position(&inner.to_string())))
        }
        _ => ApiError::InvalidJson {
            message: inner.to_string(),
            line: inner.line(),
            column: inner.column(),
        },
    }
}

/// A field error from serde's message; a missing field is named by the message, not the path.
fn field_error(path: String, message: &str) -> FieldError {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (path.as_str(), missing) {
        (".", Some(name)) => name.to_owned(),
        (_, Some(name)) => format!("{path}.{name}"),
        (".", None) => "body".to_owned(),
        _ => path,
    };
    FieldError::new(field, message.to_owned())
}

/// serde_json appends " at line 1 column 20" to data errors; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Whether `request` says its body is JSON.
pub fn is_json(request: &HttpRequest) -> bool {
    let essence = media_type(request);
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The media type of `request`'s body, lower case, without parameters (`""`: none).
pub fn media_type(request: &HttpRequest) -> String {
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        user_id: String,
        #[serde(default)]
        timeout_ms: Option<u64>,
    }

    fn field_of(json: &str) -> String {
        match parse::<Body>(json.as_bytes()).unwrap_err() {
            ApiError::InvalidField(field) => field.field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(field_of(r#"{"user_id": "u", "extra": 1}"#), "extra");
        assert_eq!(
            field_of(r#"{"user_id": "u", "timeout_ms": "soon"}"#),
            "timeout_ms"
        );
        assert_eq!(field_of(r#"{}"#), "user_id");
        assert_eq!(field_of(r#""just a string""#), "body");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        match parse::<Body>(b"{\"user_id\": ").unwrap_err() {
            ApiError::InvalidJson { line, .. } => assert_eq!(line, 1),
            other => panic!("expected invalid JSON, got {other:?}"),
        }
        assert!(matches!(
            parse::<Body>(br#"{"user_id": "u"} trailing"#).unwrap_err(),
            ApiError::InvalidJson { .. }
        ));
    }
}
