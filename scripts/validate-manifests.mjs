#!/usr/bin/env node
// Checks the Kubernetes manifests with the tools of the platforms they are for:
//  - Istio: `istioctl validate` on each file of envoy/istio and envoy/k8s (the demo backends the routes name: it
//    checks the Service's port names and the Deployment's labels too), then `istioctl analyze --use-kube=false -A`
//    over all of them at once. Without a cluster, analyze reads no Kubernetes objects from files (Services,
//    Deployments, Namespaces) and skips the analyzers that need them, e.g. whether a route's destination exists:
//    tests/e2e/deploy/validators.test.ts checks that against envoy/k8s. `validate` only warns on an unknown field
//    inside an EnvoyFilter's embedded Envoy configuration, so every warning fails the check except the one every
//    EnvoyFilter gets (IST0133, "EnvoyFilter exposes internal implementation details ..."). istioctl comes from
//    scripts/istioctl.mjs (built and cached on first use).
//  - Higress: each of its custom resources in envoy/higress against the openAPIV3Schema of Higress's CRD (the file
//    shipped in the Go module github.com/alibaba/higress, fetched once with `go mod download` and cached), unknown
//    fields rejected as the API server's strict field validation rejects them.
// Usage:
//   node scripts/validate-manifests.mjs                           both, on the shipped manifests
//   node scripts/validate-manifests.mjs istio|higress [PATH...]   one of them, on these files or directories
// Exits 1 on any failure or unexpected warning. When a tool cannot be had (no Go toolchain to build istioctl or to
// fetch the CRD), it says so and skips that check, except under CI (CI set), where that is a failure.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { parseAllDocuments } from "yaml";
import { cacheDir } from "./cache.mjs";
import { ISTIO, cachedIstioctl, ensureIstioctl, haveGo } from "./istioctl.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const DEFAULT_PATHS = { istio: ["envoy/istio", "envoy/k8s"], higress: ["envoy/higress"] };

const HIGRESS = {
  module: "github.com/alibaba/higress",
  version: "v1.4.2",
  crdPath: "api/kubernetes/customresourcedefinitions.gen.yaml",
};

/** Istio's validation warning on every EnvoyFilter: expected, since envoyfilter.yaml is one on purpose. */
const ENVOYFILTER_WARNING =
  "EnvoyFilter exposes internal implementation details that may change at any time. " +
  "Prefer other APIs if possible, and exercise extreme caution, especially around upgrades.";

/** A check that could not run because its tool cannot be had on this machine. */
class ToolMissing extends Error {}

function yamlFiles(paths) {
  return paths.flatMap((path) => {
    const full = resolve(root, path);
    if (!statSync(full, { throwIfNoEntry: false })) throw new Error(`no such file or directory: ${path}`);
    if (!statSync(full).isDirectory()) return [full];
    return readdirSync(full)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort()
      .map((name) => join(full, name));
  });
}

const shown = (file) => (file.startsWith(root) ? relative(root, file) : file);

function yamlDocuments(file) {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${shown(file)}: ${doc.errors.map((e) => e.message).join("; ")}`);
      return doc.toJS();
    })
    .filter((doc) => doc !== null);
}

// ---- Istio ----

function istioctl(binary, args) {
  const run = spawnSync(binary, args, { cwd: root, encoding: "utf8", timeout: 120_000 });
  if (run.error) throw new Error(`${binary} ${args.join(" ")}: ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

/**
 * The problems in istioctl's output: every line but those that say a file is fine, a header, or the expected
 * EnvoyFilter warning. `validate` prints `"FILE" is valid`, or `"FILE" has warnings:` followed by one `* KIND/NS/NAME:
 * text` line per warning, and other findings as lines of their own (e.g. a Deployment without Istio's telemetry
 * labels); `analyze` prints one line per message (`Warning [IST0151] (EnvoyFilter ...) text`), or "✔ No validation
 * issues found ..." when there is none.
 */
function istioProblems(output) {
  const expected = ENVOYFILTER_WARNING.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const fine = [
    /^"[^"]*" is valid$/,
    /^"[^"]*" has warnings:$/,
    /No validation issues found/,
    new RegExp(`^\\* EnvoyFilter/[^:]+: ${expected}$`),
    new RegExp(`^Warning \\[IST0133\\] \\(EnvoyFilter [^)]+\\) Schema validation warning: ${expected}$`),
  ];
  return output
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !fine.some((pattern) => pattern.test(line)));
}

function checkIstio(paths) {
  if (!cachedIstioctl() && !haveGo()) {
    throw new ToolMissing("istioctl is not cached and the Go toolchain (go) that builds it is not on PATH");
  }
  const binary = ensureIstioctl();
  const files = yamlFiles(paths);
  console.log(`istio: ${process.env.ISTIOCTL ? `istioctl ${binary} (ISTIOCTL)` : ISTIO.describe}`);
  const runs = [
    ...files.map((file) => ["validate", "-f", shown(file)]),
    ["analyze", "--use-kube=false", "-A", ...files.map(shown)],
  ];
  return runs.flatMap((args) => {
    const { status, output } = istioctl(binary, args);
    const ok = status === 0 && istioProblems(output).length === 0;
    console.log(`${ok ? "ok  " : "FAIL"} istioctl ${args.join(" ")}`);
    return ok ? [] : [`istioctl ${args.join(" ")} (exit ${status}):\n${output}`];
  });
}

// ---- Higress ----

/** Higress's CRD file, from its Go module (downloaded into a throw-away module cache), cached beside istioctl. */
function higressCrdFile() {
  const cached = join(cacheDir, "higress", HIGRESS.version, "customresourcedefinitions.gen.yaml");
  if (existsSync(cached)) return cached;
  if (!haveGo())
    throw new ToolMissing(
      `Higress's CRD is not cached and the Go toolchain (go) that fetches ${HIGRESS.module} is not on PATH`,
    );
  const modules = mkdtempSync(join(tmpdir(), "higress-module-"));
  try {
    const args = ["mod", "download", "-json", `${HIGRESS.module}@${HIGRESS.version}`];
    console.error(`higress: go ${args.join(" ")}`);
    const run = spawnSync("go", args, {
      cwd: modules,
      encoding: "utf8",
      env: { ...process.env, GOMODCACHE: modules, GOFLAGS: "-modcacherw" },
    });
    const download = run.status === 0 ? JSON.parse(run.stdout) : null;
    if (!download?.Dir) throw new Error(`go ${args.join(" ")} failed: ${run.stderr || run.stdout}`);
    mkdirSync(dirname(cached), { recursive: true });
    copyFileSync(join(download.Dir, HIGRESS.crdPath), `${cached}.partial`);
    renameSync(`${cached}.partial`, cached);
    return cached;
  } finally {
    rmSync(modules, { recursive: true, force: true });
  }
}

/**
 * The CRD schema as the API server applies it with strict field validation: a field that no `properties` names is
 * unknown (an error), except below `x-kubernetes-preserve-unknown-fields: true`, which keeps whatever is there.
 */
function strictSchema(schema) {
  const copy = { ...schema };
  if (copy.properties)
    copy.properties = Object.fromEntries(Object.entries(copy.properties).map(([k, v]) => [k, strictSchema(v)]));
  if (copy.items) copy.items = strictSchema(copy.items);
  if (typeof copy.additionalProperties === "object")
    copy.additionalProperties = strictSchema(copy.additionalProperties);
  const preserve = copy["x-kubernetes-preserve-unknown-fields"] === true;
  delete copy["x-kubernetes-preserve-unknown-fields"];
  if (copy.type === "object" && !preserve && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}

/**
 * The CRDs of the file by served apiVersion and kind (`extensions.higress.io/v1alpha1 WasmPlugin`), each compiled
 * on first use, so a schema feature of a kind we do not ship cannot stop the check of those we do.
 */
function crdValidators(crdFile) {
  // Strict: a schema keyword or format Ajv does not know (a Kubernetes extension this check does not implement,
  // e.g. CEL rules) is an error here rather than silently ignored. Not strictRequired: structural schemas name
  // fields in `required` under `not`/`anyOf` (one of several fields) without declaring them there.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  const kinds = new Map();
  for (const crd of yamlDocuments(crdFile).filter((doc) => doc.kind === "CustomResourceDefinition")) {
    for (const version of crd.spec.versions.filter((v) => v.served)) {
      let validate;
      kinds.set(`${crd.spec.group}/${version.name} ${crd.spec.names.kind}`, {
        scope: crd.spec.scope,
        validate: (body) =>
          (validate ??= ajv.compile(strictSchema(version.schema.openAPIV3Schema)))(body) ? [] : validate.errors,
      });
    }
  }
  return kinds;
}

function checkHigress(paths) {
  const crdFile = higressCrdFile();
  const validators = crdValidators(crdFile);
  const failures = [];
  console.log(`higress: CRD schemas of ${HIGRESS.module}@${HIGRESS.version} (${HIGRESS.crdPath})`);
  for (const file of yamlFiles(paths)) {
    for (const doc of yamlDocuments(file)) {
      const { apiVersion, kind, metadata, ...body } = doc;
      const where = `${shown(file)}: ${kind} ${metadata?.namespace ?? ""}/${metadata?.name ?? ""}`;
      if (!String(apiVersion).includes("higress.io/")) {
        console.log(`--   ${where} (${apiVersion}: not a Higress resource, not checked here)`);
        continue;
      }
      const validator = validators.get(`${apiVersion} ${kind}`);
      const errors = [];
      if (!validator) errors.push(`${apiVersion} ${kind} is no kind that Higress ${HIGRESS.version} serves`);
      else {
        if (!metadata?.name) errors.push("metadata.name is missing");
        if (validator.scope === "Namespaced" && !metadata?.namespace) errors.push("metadata.namespace is missing");
        for (const e of validator.validate(body)) {
          const field = e.params?.additionalProperty
            ? `${e.instancePath}/${e.params.additionalProperty}`
            : e.instancePath;
          errors.push(`${field || "/"}: ${e.keyword === "additionalProperties" ? "unknown field" : e.message}`);
        }
      }
      console.log(`${errors.length === 0 ? "ok  " : "FAIL"} ${where} (${apiVersion})`);
      if (errors.length > 0) failures.push(`${where}:\n  ${errors.join("\n  ")}`);
    }
  }
  return failures;
}

// ---- main ----

const CHECKS = { istio: checkIstio, higress: checkHigress };

function main(argv) {
  const [which, ...paths] = argv;
  if (which !== undefined && !(which in CHECKS))
    throw new Error(`usage: validate-manifests.mjs [istio|higress [PATH...]]`);
  const names = which ? [which] : Object.keys(CHECKS);
  const failures = [];
  for (const name of names) {
    try {
      failures.push(...CHECKS[name](paths.length > 0 ? paths : DEFAULT_PATHS[name]));
    } catch (error) {
      if (error instanceof ToolMissing && !process.env.CI)
        console.log(`SKIPPED ${name}: ${error.message} (under CI this fails)`);
      else failures.push(`${name}: ${error.message}`);
    }
  }
  for (const failure of failures) console.error(`\n${failure}`);
  return failures.length === 0;
}

try {
  if (!main(process.argv.slice(2))) process.exit(1);
} catch (error) {
  console.error(`scripts/validate-manifests.mjs: ${error.message}`);
  process.exit(1);
}
