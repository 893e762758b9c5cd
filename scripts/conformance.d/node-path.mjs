// Shared by the conformance .mjs helpers: ES modules ignore NODE_PATH, and some validator
// packages are ESM-only, so their files are looked up on NODE_PATH by hand.
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export async function importFromNodePath(file) {
  for (const dir of (process.env.NODE_PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const full = path.join(dir, file);
    if (existsSync(full)) return import(pathToFileURL(full).href);
  }
  throw new Error(`${file} not found on NODE_PATH`);
}
