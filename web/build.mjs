// Bundles the dashboard into --out: src/main.js and what it imports -> app.js;
// the stylesheets it imports (src/app.css, uPlot's) -> app.css; src/index.html
// copied.
//
//   node build.mjs --out DIR [--modules DIR/node_modules]
//
// --modules names the node_modules to take esbuild and uplot from (the CMake
// build installs them under its build dir); default: web/node_modules.
import { createRequire } from 'node:module';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  if (at + 1 >= process.argv.length) throw new Error(`${name} needs a value`);
  return process.argv[at + 1];
}

const out = resolve(option('--out', join(here, 'dist')));
const modules = resolve(option('--modules', join(here, 'node_modules')));
const esbuild = createRequire(join(modules, 'noop.js'))('esbuild');

mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: join(here, 'src/main.js') },
  outdir: out,
  bundle: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  legalComments: 'eof',
  nodePaths: [modules],
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
