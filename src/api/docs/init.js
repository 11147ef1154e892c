// Starts Swagger UI on this service's own document, `openapi.json` beside the page (`/docs`).
// A file of its own rather than an inline script, so that the page's Content-Security-Policy
// can refuse every inline script. Every URL is relative: the page also works behind a proxy
// that serves enrichd under a path prefix.
"use strict";

window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Never send the document to validator.swagger.io.
    validatorUrl: null,
  });
});
