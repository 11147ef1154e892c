//! `GET /docs`: the API's documentation page, Swagger UI showing `/openapi.json`.
//!
//! Everything the page loads is compiled into the binary: the page and its start script
//! (`docs/index.html`, `docs/init.js`) and Swagger UI's bundle and stylesheet, vendored from
//! npm with their licence in `docs/swagger-ui/`. No CDN, nothing downloaded at build or run
//! time.
//!
//! Its Content-Security-Policy lets it load only what enrichd serves — no inline script, no
//! other host — plus `data:` images (Swagger UI's icons are `data:` URIs in its stylesheet).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{
    error::ApiError,
    pages::{CSS, JAVASCRIPT, Page},
};

const DOCS: Page = Page {
    html: include_bytes!("docs/index.html"),
    policy: "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    assets: &[
        ("init.js", JAVASCRIPT, include_bytes!("docs/init.js")),
        (
            "swagger-ui-bundle.js",
            JAVASCRIPT,
            include_bytes!("docs/swagger-ui/swagger-ui-bundle.js"),
        ),
        (
            "swagger-ui.css",
            CSS,
            include_bytes!("docs/swagger-ui/swagger-ui.css"),
        ),
    ],
    // Vendored, changing only with an upgrade of enrichd.
    asset_caching: "public, max-age=3600",
};

/// The documentation page.
pub async fn page() -> HttpResponse {
    DOCS.page()
}

/// One asset of the page.
pub async fn asset(
    request: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    DOCS.asset(&request, &name)
}
