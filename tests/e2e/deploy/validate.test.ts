// Every Envoy bootstrap the project ships passes `envoy --mode validate` on the oldest and the newest pinned Envoy.
// Validate mode reads the whole configuration against that version's own protos (a misspelt field, or a field or
// extension the version lacks, fails it) and loads the Wasm plugins, so the filter's on_configure runs on the shipped
// plugin configuration and can refuse it (the last subtest of each version shows it does); it binds no socket and
// reaches no backend. The bootstraps are found, not listed: every YAML or JSON document under envoy/ and bench/ with
// an Envoy Bootstrap's top level, so one added later is checked too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";
import { envoyRelease, type EnvoyRelease } from "../../helpers/envoy.ts";
import { filterWasm, repoRoot } from "../../helpers/gateway.ts";

type Json = Record<string, any>;
const SEARCHED = ["envoy", "bench"];
const CONFIG_FILE = /\.(ya?ml|json)$/;
const VALIDATE_TIMEOUT_MS = 60_000;

function configFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? configFiles(path) : CONFIG_FILE.test(entry.name) ? [path] : [];
  });
}

/** A Bootstrap's top level: static resources, or resources from a management server. */
function isBootstrap(doc: unknown): boolean {
  return (
    typeof doc === "object" &&
    doc !== null &&
    !Array.isArray(doc) &&
    ("static_resources" in doc || "dynamic_resources" in doc)
  );
}

/** The shipped files holding a bootstrap, relative to the repository root. */
function shippedBootstraps(): string[] {
  return SEARCHED.flatMap((dir) => configFiles(join(repoRoot, dir)))
    .filter((path) =>
      parseAllDocuments(readFileSync(path, "utf8")).some((doc) => doc.errors.length === 0 && isBootstrap(doc.toJS())),
    )
    .map((path) => relative(repoRoot, path))
    .sort();
}

/**
 * `envoy --mode validate -c FILE` from the repository root, as `npm start` runs Envoy: relative Wasm paths resolve
 * against the working directory.
 */
function validate(release: EnvoyRelease, file: string): { status: number | null; output: string } {
  const run = spawnSync(envoyRelease(release).path, ["--mode", "validate", "-c", file], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: VALIDATE_TIMEOUT_MS,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}${run.error ? `\n${run.error.message}` : ""}` };
}

/** envoy/envoy.yaml with its plugin configuration in "continue" mode, which the filter refuses for an sse server. */
function refusedByTheFilter(): string {
  const bootstrap: Json = parse(readFileSync(join(repoRoot, "envoy/envoy.yaml"), "utf8"));
  const hcm = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const configuration = hcm.http_filters.find((f: Json) => f.name === "envoy.filters.http.wasm").typed_config.config
    .configuration;
  const plugin = JSON.parse(configuration.value);
  assert.ok(
    plugin.servers.some((s: Json) => s.transport === "sse"),
    "envoy.yaml serves an sse server",
  );
  configuration.value = JSON.stringify({ ...plugin, requestHeadersMode: "continue" });
  return stringify(bootstrap);
}

const bootstraps = shippedBootstraps();

test("the shipped bootstraps are found, envoy/envoy.yaml among them", () => {
  assert.ok(bootstraps.includes("envoy/envoy.yaml"), JSON.stringify(bootstraps));
});

for (const release of ["newest", "oldest"] as EnvoyRelease[]) {
  test(`envoy --mode validate passes for every shipped bootstrap on the ${release} pinned Envoy`, async (t) => {
    filterWasm();
    const { version } = envoyRelease(release);
    for (const file of bootstraps) {
      await t.test(`${file} on Envoy ${version}`, () => {
        const { status, output } = validate(release, file);
        assert.equal(status, 0, output);
        assert.ok(output.includes(`configuration '${file}' OK`), output);
      });
    }
    await t.test(`a plugin configuration the filter refuses fails validation on Envoy ${version}`, (t) => {
      const dir = mkdtempSync(join(tmpdir(), "mcp-validate-"));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const file = join(dir, "envoy.yaml");
      writeFileSync(file, refusedByTheFilter());
      const { status, output } = validate(release, file);
      assert.notEqual(status, 0, output);
      assert.match(output, /"sse" needs requestHeadersMode "hold"/);
    });
  });
}
