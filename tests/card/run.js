// Runs the card's tests under Node with coverage, prints the card's coverage figure and fails
// below the gate. `npm test` and script/test call this.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const GATE = 95; // line coverage of hold-slayer-card.js, in percent
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const files = readdirSync(here)
  .filter((name) => name.endsWith(".test.js"))
  .map((name) => relative(root, join(here, name)));
const run = spawnSync(
  process.execPath,
  ["--test", "--experimental-test-coverage", "--test-reporter=spec", ...files],
  { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
);
process.stdout.write(run.stdout);
const row = run.stdout.match(/hold-slayer-card\.js\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)/);
if (!row) {
  console.error("No coverage figure for hold-slayer-card.js in the test output.");
  process.exit(1);
}
const [lines, branches, functions] = row.slice(1).map(Number);
console.log(
  `Card coverage (hold-slayer-card.js): lines ${lines} %, branches ${branches} %, functions ${functions} % (gate: lines >= ${GATE} %)`,
);
if (run.status !== 0) process.exit(run.status ?? 1);
if (lines < GATE) {
  console.error(`Card line coverage ${lines} % is below ${GATE} %.`);
  process.exit(1);
}
