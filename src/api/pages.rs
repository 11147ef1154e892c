//! Pages for people that the binary serves (`/docs`, `/console`): one HTML page and the
//! assets it loads, compiled in, under a strict Content-Security-Policy.
//!
//! Pages are not part of the JSON API, so they are not in [`super::openapi::ROUTES`] or the
//! document. An unknown asset is the API's 404.

use actix_web::{HttpRequest, HttpResponse, http::header};

use super::error::ApiError;

pub const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
pub const CSS: &str = "text/css; charset=utf-8";

/// A page and what it loads from `<path>/<name>`.
pub struct Page {
    pub html: &'static [u8],
    pub policy: &'static str,
    /// Name, content type, body.
    pub assets: &'static [(&'static str, &'static str, &'static [u8])],
    /// The `Cache-Control` of the assets.
    pub asset_caching: &'static str,
}

impl Page {
    /// The page itself: small and naming its assets, so always revalidated.
    pub fn page(&self) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, self.policy))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(self.html)
    }

    /// One asset of the page; any other name is the API's 404.
    pub fn asset(&self, request: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
        let (_, content_type, body) = self
            .assets
            .iter()
            .find(|(asset, _, _)| *asset == name)
            .ok_or_else(|| ApiError::RouteNotFound {
                method: request.method().to_string(),
                path: request.path().to_owned(),
            })?;
        Ok(HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CACHE_CONTROL, self.asset_caching))
            .body(*body))
    }
}
