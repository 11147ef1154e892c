//! Bearer authentication: API keys for `/v1` routes, admin tokens for admin routes.
//!
//! Keys are kept only as SHA-256 digests and compared in constant time (every key is compared,
//! whatever matches), so neither timing nor a memory dump gives a key away.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use enrichd_sdk::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AppState, error::ApiError};

/// What a bearer token entitles its holder to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// No valid token.
    None,
    /// An API key: the `/v1` enrichment and profile routes.
    Api,
    /// An admin token: everything.
    Admin,
}

/// The configured keys, as digests.
pub struct Authenticator {
    api_keys: Vec<[u8; 32]>,
    admin_tokens: Vec<[u8; 32]>,
}

impl Authenticator {
    pub fn new(api_keys: &[Secret], admin_tokens: &[Secret]) -> Authenticator {
        let digests = |keys: &[Secret]| keys.iter().map(|k| digest(k.expose())).collect();
        Authenticator {
            api_keys: digests(api_keys),
            admin_tokens: digests(admin_tokens),
        }
    }

    /// Whether any key is configured; with none, authentication is off.
    pub fn enabled(&self) -> bool {
        !self.api_keys.is_empty() || !self.admin_tokens.is_empty()
    }

    /// The role of the request's bearer token.
    pub fn role_of(&self, request: &HttpRequest) -> Role {
        let Some(token) = request
            .headers()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
        else {
            return Role::None;
        };
        let presented = digest(token.trim());
        let matches = |keys: &[[u8; 32]]| {
            keys.iter().fold(subtle::Choice::from(0), |found, key| {
                found | key.ct_eq(&presented)
            })
        };
        if bool::from(matches(&self.admin_tokens)) {
            Role::Admin
        } else if bool::from(matches(&self.api_keys)) {
            Role::Api
        } else {
            Role::None
        }
    }
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer_token(credentials: &str) -> Option<&str> {
    let (scheme, token) = credentials.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Extractor guarding `/v1` routes: an API key or an admin token (or auth off).
pub struct ApiCaller;

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Ready<Result<ApiCaller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request
            .app_data::<web::Data<AppState>>()
            .expect("the app state is registered");
        let allowed = !state.auth.enabled() || state.auth.role_of(request) != Role::None;
        ready(if allowed {
            Ok(ApiCaller)
        } else {
            Err(ApiError::Unauthorized)
        })
    }
}

/// Extractor guarding admin routes: an admin token (or auth off). A mere API key is 403.
pub struct AdminCaller;

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Ready<Result<AdminCaller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = request
            .app_data::<web::Data<AppState>>()
            .expect("the app state is registered");
        if !state.auth.enabled() {
            return ready(Ok(AdminCaller));
        }
        ready(match state.auth.role_of(request) {
            Role::Admin => Ok(AdminCaller),
            Role::Api => Err(ApiError::Forbidden),
            Role::None => Err(ApiError::Unauthorized),
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(&[Secret::new("api-1")], &[Secret::new("admin-1")])
    }

    fn role(header: Option<&str>) -> Role {
        let mut request = TestRequest::default();
        if let Some(value) = header {
            request = request.insert_header(("authorization", value));
        }
        auth().role_of(&request.to_http_request())
    }

    #[test]
    fn tokens_map_to_roles() {
        assert_eq!(role(Some("Bearer api-1")), Role::Api);
        assert_eq!(role(Some("bearer api-1")), Role::Api);
        assert_eq!(role(Some("BEARER admin-1")), Role::Admin);
        assert_eq!(role(Some("Bearer  api-1")), Role::Api);
        assert_eq!(role(Some("Bearerapi-1")), Role::None);
        assert_eq!(role(Some("Bearer admin-1")), Role::Admin);
        assert_eq!(role(Some("Bearer api-2")), Role::None);
        assert_eq!(role(Some("api-1")), Role::None);
        assert_eq!(role(Some("Basic api-1")), Role::None);
        assert_eq!(role(None), Role::None);
    }

    #[test]
    fn no_keys_means_auth_is_off() {
        assert!(!Authenticator::new(&[], &[]).enabled());
        assert!(auth().enabled());
    }
}
