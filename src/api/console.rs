//! `GET /console`: the operator's console, a page that steers enrichd through its public API
//! (PRODUCT.md §14).
//!
//! The page, its stylesheet and its scripts (`console/*`, plain ES modules, no build step and
//! no library) are compiled into the binary. It has no endpoint of its own: every number and
//! every action is a call to the API a script could make, with the key the operator signs in
//! with (kept in the tab's `sessionStorage`, sent as `Authorization: Bearer`).
//!
//! Its Content-Security-Policy allows only what enrichd serves: no inline script or style, no
//! other origin to load from or connect to (a profile's avatar URL is shown, not loaded).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{
    error::ApiError,
    pages::{CSS, JAVASCRIPT, Page},
};

/// The console's policy: everything from enrichd itself, nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const CONSOLE: Page = Page {
    html: include_bytes!("console/index.html"),
    policy: CONTENT_SECURITY_POLICY,
    assets: &[
        ("console.css", CSS, include_bytes!("console/console.css")),
        ("main.js", JAVASCRIPT, include_bytes!("console/main.js")),
        ("api.js", JAVASCRIPT, include_bytes!("console/api.js")),
        ("dom.js", JAVASCRIPT, include_bytes!("console/dom.js")),
        (
            "metrics.js",
            JAVASCRIPT,
            include_bytes!("console/metrics.js"),
        ),
        ("charts.js", JAVASCRIPT, include_bytes!("console/charts.js")),
        (
            "overview.js",
            JAVASCRIPT,
            include_bytes!("console/overview.js"),
        ),
        (
            "connectors.js",
            JAVASCRIPT,
            include_bytes!("console/connectors.js"),
        ),
        ("tryit.js", JAVASCRIPT, include_bytes!("console/tryit.js")),
        (
            "profile.js",
            JAVASCRIPT,
            include_bytes!("console/profile.js"),
        ),
        ("jobs.js", JAVASCRIPT, include_bytes!("console/jobs.js")),
        (
            "privacy.js",
            JAVASCRIPT,
            include_bytes!("console/privacy.js"),
        ),
    ],
    // Small, and they change with enrichd: revalidated, so an upgrade shows at once.
    asset_caching: "no-cache",
};

/// The console.
pub async fn page() -> HttpResponse {
    CONSOLE.page()
}

/// One of the console's files.
pub async fn asset(
    request: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    CONSOLE.asset(&request, &name)
}
