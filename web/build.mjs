// Builds the console into web/dist with esbuild (an npm package; no download): one JS bundle, one CSS file and the
// page. Run by `npm install` (postinstall) and `npm run build`; the API serves web/dist at /console/.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const result = await build({
  entryPoints: { app: join(here, "src/main.tsx"), "app-style": join(here, "src/app.css") },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: out,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});
// esbuild names the CSS entry app-style.css; the page links app.css.
const css = await readFile(join(out, "app-style.css"));
await writeFile(join(out, "app.css"), css);
await rm(join(out, "app-style.css"));
await rm(join(out, "app-style.js"), { force: true });
const js = await readFile(join(out, "app.js"));
const version = createHash("sha256").update(js).update(css).digest("hex").slice(0, 12);
const html = (await readFile(join(here, "index.html"), "utf8")).replaceAll("__VERSION__", version);
await writeFile(join(out, "index.html"), html);
const kb = (n) => `${Math.round(n / 1024)} KB`;
console.log(`控制台已构建：web/dist（app.js ${kb(js.length)}，app.css ${kb(css.length)}，版本 ${version}）`);
void result;
