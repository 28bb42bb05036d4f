#!/usr/bin/env node
// Copies the front-end assets listed in scripts/vendor-manifest.json out of node_modules (run
// `npm ci --ignore-scripts` first), writes pre-compressed .gz copies and builds the SVG icon sprite.
// No dependencies, no bundler: the files are served exactly as the packages ship them.
//
//   node scripts/vendor.mjs
//
// Each target directory is built in a temporary sibling and then swapped in, so a failed run never
// leaves a half-written vendor directory behind.

import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MANIFEST = path.join(ROOT, "scripts", "vendor-manifest.json");
const NODE_MODULES = path.join(ROOT, "node_modules");
const ICON_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

function fail(message) {
  console.error(`vendor.mjs: ${message}`);
  process.exit(1);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    fail(`cannot read ${path.relative(ROOT, file)}: ${error.message}`);
  }
}

// A manifest path must stay inside its base directory (no absolute paths, no "..").
function inside(base, relative, what) {
  const resolved = path.resolve(base, relative);
  if (path.isAbsolute(relative) || !resolved.startsWith(base + path.sep)) {
    fail(`${what} escapes ${path.relative(ROOT, base) || "."}: ${relative}`);
  }
  return resolved;
}

function packageDir(name) {
  const dir = inside(NODE_MODULES, name, "package");
  if (!fs.existsSync(path.join(dir, "package.json"))) {
    fail(`package ${name} is not installed: run \`npm ci --ignore-scripts --no-audit --no-fund\` first`);
  }
  return dir;
}

// The installed packages must be exactly the versions package.json pins (a stale node_modules
// would otherwise be vendored silently).
function checkPins() {
  const pins = readJson(path.join(ROOT, "package.json")).devDependencies ?? {};
  for (const [name, wanted] of Object.entries(pins)) {
    if (!/^\d+\.\d+\.\d+$/.test(wanted)) fail(`package.json must pin ${name} exactly, not "${wanted}"`);
    const installed = readJson(path.join(packageDir(name), "package.json")).version;
    if (installed !== wanted) {
      fail(`node_modules has ${name} ${installed}, package.json pins ${wanted}: run \`npm ci --ignore-scripts\``);
    }
  }
}

function escapeAttribute(value) {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

// One <symbol> per icon; the icon's own markup (paths) goes inside a group that keeps the icon's
// fill="currentColor", so a <use> element takes the text colour as the original icons do.
function buildSprite(sprite) {
  const iconDir = inside(packageDir(sprite.package), sprite.from, "sprite source");
  const seen = new Set();
  const symbols = [];
  for (const name of sprite.icons) {
    if (!ICON_NAME.test(name)) fail(`invalid icon name: ${name}`);
    if (seen.has(name)) fail(`icon listed twice: ${name}`);
    seen.add(name);
    const file = path.join(iconDir, `${name}.svg`);
    if (!fs.existsSync(file)) fail(`no icon ${name} in ${sprite.package} (${path.relative(ROOT, file)})`);
    const source = fs.readFileSync(file, "utf8");
    const match = source.match(/^\s*<svg\b([^>]*)>([\s\S]*)<\/svg>\s*$/);
    if (!match) fail(`${path.relative(ROOT, file)} is not a single <svg> element`);
    const viewBox = match[1].match(/\bviewBox="([^"]+)"/);
    if (!viewBox) fail(`${path.relative(ROOT, file)} has no viewBox`);
    if (/\bid="/.test(match[2])) fail(`${path.relative(ROOT, file)} defines ids, which would clash in a sprite`);
    const body = match[2]
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .join("");
    symbols.push(
      `<symbol id="${name}" viewBox="${escapeAttribute(viewBox[1])}"><g fill="currentColor">${body}</g></symbol>`,
    );
  }
  const pkg = readJson(path.join(packageDir(sprite.package), "package.json"));
  return (
    `<svg xmlns="http://www.w3.org/2000/svg">\n` +
    `<!-- ${pkg.name} ${pkg.version} (${pkg.license}), ${symbols.length} icons; built by scripts/vendor.mjs -->\n` +
    `${symbols.join("\n")}\n</svg>\n`
  );
}

function buildTarget(relativeDir, target) {
  const finalDir = inside(ROOT, relativeDir, "target");
  const tempDir = `${finalDir}.tmp-${process.pid}`;
  fs.rmSync(tempDir, { recursive: true, force: true });
  fs.mkdirSync(tempDir, { recursive: true });
  const written = [];
  const names = new Set();
  const claim = (name) => {
    if (names.has(name)) fail(`${relativeDir}/${name} is written twice`);
    names.add(name);
    return inside(tempDir, name, "destination");
  };
  try {
    for (const entry of target.files ?? []) {
      const source = inside(packageDir(entry.package), entry.from, "source");
      if (!fs.existsSync(source)) fail(`missing ${entry.package}/${entry.from}`);
      const dest = claim(entry.to);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(source, dest);
      written.push(dest);
    }
    if (target.sprite) {
      const dest = claim(target.sprite.to);
      fs.writeFileSync(dest, buildSprite(target.sprite));
      written.push(dest);
    }
    const gzip = new Set(target.gzip ?? []);
    for (const file of written) {
      if (!gzip.has(path.extname(file))) continue;
      // Level 9 and the zero mtime node writes make the .gz byte-for-byte reproducible.
      const compressed = zlib.gzipSync(fs.readFileSync(file), { level: 9 });
      fs.writeFileSync(claim(`${path.relative(tempDir, file)}.gz`), compressed);
    }
  } catch (error) {
    fs.rmSync(tempDir, { recursive: true, force: true });
    throw error;
  }
  fs.rmSync(finalDir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(finalDir), { recursive: true });
  fs.renameSync(tempDir, finalDir);
  console.log(`vendor.mjs: ${relativeDir}: ${[...names].sort().join(", ")}`);
}

const manifest = readJson(MANIFEST);
if (!manifest.targets || typeof manifest.targets !== "object") fail("the manifest has no targets");
checkPins();
for (const [dir, target] of Object.entries(manifest.targets)) buildTarget(dir, target);
