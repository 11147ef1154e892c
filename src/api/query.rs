//! Query strings: each route names the parameters it takes; anything else is a 400 naming it.

use actix_web::{HttpRequest, web};

use super::error::ApiError;
use crate::domain::FieldError;

/// The query's parameters, in order, when every one is among `allowed`.
pub fn pairs(request: &HttpRequest, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let query = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map_err(|err| FieldError::new("query", format!("cannot be parsed: {err}")))?;
    let pairs = query.into_inner();
    if let Some((other, _)) = pairs
        .iter()
        .find(|(name, _)| !allowed.contains(&name.as_str()))
    {
        let expected = allowed
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(FieldError::new(
            other.as_str(),
            format!("is not a query parameter of this route; only {expected} is"),
        )
        .into());
    }
    Ok(pairs)
}

/// The flag `name=true|false` (absent: false) of a query taking only `allowed`.
pub fn flag(request: &HttpRequest, name: &str, allowed: &[&str]) -> Result<bool, ApiError> {
    let mut value = false;
    for (key, text) in pairs(request, allowed)? {
        if key == name {
            value = match text.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(FieldError::new(name, "must be `true` or `false`").into()),
            };
        }
    }
    Ok(value)
}

/// The value of a `limit` parameter: a whole number from 1 to `max`.
pub fn limit(value: &str, max: usize) -> Result<usize, FieldError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| FieldError::new("limit", format!("must be 1-{max}")))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn flag_of(query: &str) -> Result<bool, String> {
        let request = TestRequest::with_uri(&format!("/x?{query}")).to_http_request();
        flag(&request, "refresh", &["refresh"]).map_err(|e| e.to_string())
    }

    #[test]
    fn flags_are_true_or_false_and_strangers_are_named() {
        assert_eq!(flag_of(""), Ok(false));
        assert_eq!(flag_of("refresh=true"), Ok(true));
        assert_eq!(flag_of("refresh=true&refresh=false"), Ok(false));
        assert!(flag_of("refresh=yes").unwrap_err().contains("`refresh`"));
        let stranger = flag_of("limit=3").unwrap_err();
        assert!(
            stranger.contains("`limit`") && stranger.contains("only `refresh`"),
            "{stranger}"
        );
    }
}
