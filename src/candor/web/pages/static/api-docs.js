/* The interactive API documentation at /docs: Swagger UI over /openapi.json, served by Candor
   itself (a static file, so the content security policy needs no inline script). */
(function () {
  "use strict";
  window.addEventListener("DOMContentLoaded", function () {
    window.SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      validatorUrl: null, // its badge would load an image from a third party
    });
  });
})();
