// Bundles every ui/src/*.js entry into the package's static files and copies the vendored
// browser files Candor serves itself (no CDN). Run by `make ui`; the output is committed so
// `make demo` and `make test` need no Node.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

const STATIC = "../src/candor/web/pages/static/bundle";
const TEST_VENDOR = "../tests/e2e/vendor";

const entries = readdirSync("src")
  .filter((name) => name.endsWith(".js"))
  .map((name) => join("src", name));

mkdirSync(STATIC, { recursive: true });
if (entries.length) {
  await build({
    entryPoints: entries,
    outdir: STATIC,
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    legalComments: "linked",
    logLevel: "info",
  });
}

const copies = [
  ["node_modules/swagger-ui-dist/swagger-ui-bundle.js", join(STATIC, "swagger-ui-bundle.js")],
  ["node_modules/swagger-ui-dist/swagger-ui.css", join(STATIC, "swagger-ui.css")],
  ["node_modules/axe-core/axe.min.js", join(TEST_VENDOR, "axe.min.js")],
];
mkdirSync(TEST_VENDOR, { recursive: true });
for (const [from, to] of copies) copyFileSync(from, to);
