//! Bearer authentication: API keys for `/v1` routes (each bound to a tenant), admin tokens for
//! admin routes (acting on any tenant through `x-enrichd-tenant`).
//!
//! Keys are kept only as SHA-256 digests and compared in constant time (every key is compared,
//! whatever matches), so neither timing nor a memory dump gives a key away.

use std::{
    collections::BTreeSet,
    future::{Ready, ready},
    sync::{Arc, LazyLock},
};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::{AppState, error::ApiError};
use crate::{
    config::AuthConfig,
    domain::{FieldError, Tenant},
};

/// The header with which admin tokens pick the tenant they act on.
pub const TENANT_HEADER: &str = "x-enrichd-tenant";

/// What a bearer token entitles its holder to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// No valid token.
    None,
    /// An API key: the `/v1` enrichment and profile routes, for its tenant.
    Api,
    /// An admin token: everything, for any tenant.
    Admin,
}

/// Who is calling, once authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's `name`: the audit trail's actor.
    pub name: Arc<str>,
    /// The tenant whose data the request reaches.
    pub tenant: Tenant,
    pub role: Role,
}

/// One configured key, as a digest.
struct Entry {
    digest: [u8; 32],
    name: Arc<str>,
    tenant: Tenant,
    role: Role,
}

/// The configured keys, as digests.
pub struct Authenticator {
    entries: Vec<Entry>,
    /// The tenants of the configured keys (and `default`).
    tenants: BTreeSet<Tenant>,
}

impl Authenticator {
    pub fn new(auth: &AuthConfig) -> Authenticator {
        let entry = |role: Role| {
            move |key: &crate::config::KeyConfig| Entry {
                digest: digest(key.key.expose().trim()),
                name: Arc::from(key.name.as_str()),
                tenant: key.tenant.clone(),
                role,
            }
        };
        Authenticator {
            entries: auth
                .admin_tokens
                .iter()
                .map(entry(Role::Admin))
                .chain(auth.api_keys.iter().map(entry(Role::Api)))
                .collect(),
            tenants: auth.tenants(),
        }
    }

    /// Whether any key is configured; with none, authentication is off.
    pub fn enabled(&self) -> bool {
        !self.entries.is_empty()
    }

    /// The configured key the request's bearer token is, compared in constant time with
    /// every key (whichever matches).
    fn identify(&self, request: &HttpRequest) -> Option<&Entry> {
        let token = request
            .headers()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)?;
        let presented = digest(token.trim());
        let mut found = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, entry) in self.entries.iter().enumerate() {
            let same = entry.digest.ct_eq(&presented);
            index.conditional_assign(&u32::try_from(i).unwrap_or(u32::MAX), same);
            found |= same;
        }
        bool::from(found).then(|| &self.entries[index as usize])
    }

    /// The role of the request's bearer token.
    pub fn role_of(&self, request: &HttpRequest) -> Role {
        self.identify(request)
            .map_or(Role::None, |entry| entry.role)
    }

    /// Who the request comes from, and the tenant it acts on: an API key's own; an admin
    /// token's (or, with authentication off, anyone's) `default` unless `x-enrichd-tenant`
    /// names another. An API key naming another tenant is refused.
    pub fn caller(&self, request: &HttpRequest) -> Result<Caller, ApiError> {
        let named = named_tenant(request)?;
        if !self.enabled() {
            static ANONYMOUS: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("anonymous"));
            return Ok(Caller {
                name: ANONYMOUS.clone(),
                tenant: named.unwrap_or_default(),
                role: Role::Admin,
            });
        }
        let entry = self.identify(request).ok_or(ApiError::Unauthorized)?;
        let tenant = match (entry.role, named) {
            (Role::Api, Some(named)) if named != entry.tenant => {
                return Err(ApiError::TenantNotAllowed);
            }
            (Role::Admin, Some(named)) => named,
            _ => entry.tenant.clone(),
        };
        Ok(Caller {
            name: entry.name.clone(),
            tenant,
            role: entry.role,
        })
    }

    /// How metrics name `tenant`: configured tenants by name, others (only admins can name
    /// them) as `other`, so that the label stays bounded.
    pub fn metric_label<'a>(&self, tenant: &'a Tenant) -> &'a str {
        if self.tenants.contains(tenant) {
            tenant.as_str()
        } else {
            "other"
        }
    }
}

/// The tenant `x-enrichd-tenant` names, if it is there; a malformed one is a 400.
fn named_tenant(request: &HttpRequest) -> Result<Option<Tenant>, ApiError> {
    let Some(value) = request.headers().get(TENANT_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    Tenant::parse(text)
        .map(Some)
        .map_err(|message| FieldError::new(TENANT_HEADER, message).into())
}

/// The token of a `Bearer` credential; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer_token(credentials: &str) -> Option<&str> {
    let (scheme, token) = credentials.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The caller's tenant, as the request's extensions carry it for the metrics middleware
/// (only when `metrics.tenant_label` is on).
#[derive(Debug, Clone)]
pub struct TenantLabel(pub String);

fn authenticate(request: &HttpRequest, admin_only: bool) -> Result<Caller, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .expect("the app state is registered");
    let caller = state.auth.caller(request)?;
    if admin_only && caller.role != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    if state.metrics.tenant_label() {
        let label = state.auth.metric_label(&caller.tenant).to_owned();
        request.extensions_mut().insert(TenantLabel(label));
    }
    Ok(caller)
}

/// Extractor guarding `/v1` routes: an API key or an admin token (or auth off).
pub struct ApiCaller(pub Caller);

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Ready<Result<ApiCaller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request, false).map(ApiCaller))
    }
}

/// Extractor guarding admin routes: an admin token (or auth off). A mere API key is 403.
pub struct AdminCaller(pub Caller);

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Ready<Result<AdminCaller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(request, true).map(AdminCaller))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use enrichd_sdk::Secret;

    use super::*;
    use crate::config::KeyConfig;

    fn key(key: &str, name: &str, tenant: &str) -> KeyConfig {
        KeyConfig {
            key: Secret::new(key),
            name: name.to_owned(),
            tenant: Tenant::parse(tenant).unwrap(),
        }
    }

    fn auth() -> Authenticator {
        Authenticator::new(&AuthConfig {
            api_keys: vec![
                key("api-1", "api-key-1", "default"),
                key("api-m", "crm-sync", "marketing"),
            ],
            admin_tokens: vec![key("admin-1", "ops", "default")],
        })
    }

    fn request(token: Option<&str>, tenant: Option<&str>) -> HttpRequest {
        let mut request = TestRequest::default();
        if let Some(token) = token {
            request = request.insert_header(("authorization", format!("Bearer {token}")));
        }
        if let Some(tenant) = tenant {
            request = request.insert_header((TENANT_HEADER, tenant));
        }
        request.to_http_request()
    }

    fn caller(token: Option<&str>, tenant: Option<&str>) -> Result<(String, String), String> {
        auth()
            .caller(&request(token, tenant))
            .map(|c| (c.name.to_string(), c.tenant.to_string()))
            .map_err(|e| e.code().to_owned())
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
        let off = Authenticator::new(&AuthConfig::default());
        assert!(!off.enabled());
        assert!(auth().enabled());
        let anyone = off.caller(&request(None, Some("marketing"))).unwrap();
        assert_eq!(&*anyone.name, "anonymous");
        assert_eq!(anyone.tenant.as_str(), "marketing");
        assert_eq!(anyone.role, Role::Admin);
    }

    #[test]
    fn api_keys_act_on_their_own_tenant_and_admins_on_any() {
        let ok = |name: &str, tenant: &str| Ok((name.to_owned(), tenant.to_owned()));
        assert_eq!(caller(Some("api-1"), None), ok("api-key-1", "default"));
        assert_eq!(caller(Some("api-m"), None), ok("crm-sync", "marketing"));
        assert_eq!(
            caller(Some("api-m"), Some("marketing")),
            ok("crm-sync", "marketing")
        );
        assert_eq!(
            caller(Some("api-m"), Some("default")),
            Err("forbidden".to_owned())
        );
        assert_eq!(
            caller(Some("api-1"), Some("marketing")),
            Err("forbidden".to_owned())
        );
        assert_eq!(caller(Some("admin-1"), None), ok("ops", "default"));
        assert_eq!(caller(Some("admin-1"), Some("sales")), ok("ops", "sales"));
        assert_eq!(
            caller(Some("admin-1"), Some("Bad Tenant")),
            Err("invalid_request".to_owned())
        );
        assert_eq!(caller(Some("nope"), None), Err("unauthorized".to_owned()));
        assert_eq!(caller(None, None), Err("unauthorized".to_owned()));
    }

    #[test]
    fn metrics_name_only_configured_tenants() {
        let auth = auth();
        let marketing = Tenant::parse("marketing").unwrap();
        let sales = Tenant::parse("sales").unwrap();
        assert_eq!(auth.metric_label(&marketing), "marketing");
        assert_eq!(auth.metric_label(&Tenant::default()), "default");
        assert_eq!(auth.metric_label(&sales), "other");
    }
}
