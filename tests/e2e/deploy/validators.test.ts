// The Kubernetes manifests pass their platforms' own checks (scripts/validate-manifests.mjs): Higress's WasmPlugin
// against Higress's CRD schema with unknown fields rejected, and the Istio manifests with the demo backends of
// envoy/k8s through `istioctl validate` and `istioctl analyze`. Each check is also shown to fail on a broken copy.
// istioctl takes 8 to 13 minutes to build, so these tests only use a cached one (.ci/run builds it first with
// scripts/istioctl.mjs); without it they skip, except under CI, where they fail.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";

type Json = Record<string, any>;
const root = new URL("../../..", import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), "utf8");
const docs = (path: string): Json[] => parseAllDocuments(read(path)).map((doc) => doc.toJS());

function node(args: string[]): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", timeout: 300_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const validate = (...args: string[]) => node(["scripts/validate-manifests.mjs", ...args]);

/** A temporary copy of the manifest at `path` with `change` applied to its documents; removed after the test. */
function brokenCopy(t: TestContext, path: string, change: (docs: Json[]) => void): string {
  const copy = docs(path);
  change(copy);
  const dir = mkdtempSync(join(tmpdir(), "manifests-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, path.split("/").pop()!);
  writeFileSync(file, copy.map((doc) => stringify(doc)).join("---\n"));
  return file;
}

/** The check's result, or null (the test skipped) when its tool cannot be had here: the script says SKIPPED, never under CI. */
function checked(t: TestContext, result: { status: number | null; output: string }) {
  if (!/^SKIPPED /m.test(result.output)) return result;
  t.skip(result.output.trim());
  return null;
}

test("Higress: the shipped WasmPlugin passes Higress's CRD schema", { timeout: 300_000 }, (t) => {
  const result = checked(t, validate("higress"));
  if (!result) return;
  const { status, output } = result;
  assert.equal(status, 0, output);
  assert.match(output, /^ok +envoy\/higress\/wasmplugin\.yaml: WasmPlugin higress-system\/mcp-proxy/m);
});

test("Higress: unknown or invalid fields in the WasmPlugin fail the schema check", { timeout: 300_000 }, (t) => {
  const file = brokenCopy(t, "envoy/higress/wasmplugin.yaml", ([plugin]) => {
    plugin.spec.pluginConfigs = {};
    plugin.spec.matchRules[0].ingresses = plugin.spec.matchRules[0].ingress;
    plugin.spec.phase = "LAST";
  });
  const result = checked(t, validate("higress", file));
  if (!result) return;
  const { status, output } = result;
  assert.equal(status, 1, output);
  assert.match(output, /\/spec\/pluginConfigs: unknown field/);
  assert.match(output, /\/spec\/matchRules\/0\/ingresses: unknown field/);
  assert.match(output, /\/spec\/phase: must be equal to one of the allowed values/);
  // What the CRD leaves open stays open: the plugin's own configuration is the filter's business.
  assert.doesNotMatch(output, /defaultConfig|\/config\b/);
});

/** Whether istioctl is cached; if not, the test skips with the script that builds it (under CI it fails). */
function haveIstioctl(t: TestContext): boolean {
  if (node(["scripts/istioctl.mjs", "--cached"]).status === 0) return true;
  const why = "istioctl is not built yet: run node scripts/istioctl.mjs (8 to 13 minutes, once)";
  if (process.env.CI) assert.fail(why);
  t.skip(why);
  return false;
}

test("Istio: the manifests and the demo backends pass istioctl validate and analyze", { timeout: 300_000 }, (t) => {
  if (!haveIstioctl(t)) return;
  const { status, output } = validate("istio");
  assert.equal(status, 0, output);
  for (const file of [
    "envoy/istio/envoyfilter.yaml",
    "envoy/istio/routes.yaml",
    "envoy/istio/wasmplugin.yaml",
    "envoy/k8s/mcp-demo.yaml",
  ]) {
    assert.match(output, new RegExp(`^ok +istioctl validate -f ${file}$`, "m"));
  }
  assert.match(output, /^ok +istioctl analyze --use-kube=false -A .*envoy\/k8s\/mcp-demo\.yaml$/m);
});

test("Istio: an EnvoyFilter without priority fails analyze (IST0151)", { timeout: 300_000 }, (t) => {
  if (!haveIstioctl(t)) return;
  const file = brokenCopy(t, "envoy/istio/envoyfilter.yaml", ([filter]) => {
    delete filter.spec.priority;
  });
  const { status, output } = validate("istio", file);
  assert.equal(status, 1, output);
  assert.match(output, /^ok +istioctl validate/m);
  assert.match(output, /^FAIL istioctl analyze/m);
  assert.match(output, /IST0151/);
});

test(
  "Istio: an unknown field in the EnvoyFilter's Envoy configuration fails validate (istioctl only warns)",
  { timeout: 300_000 },
  (t) => {
    if (!haveIstioctl(t)) return;
    const file = brokenCopy(t, "envoy/istio/envoyfilter.yaml", ([filter]) => {
      filter.spec.configPatches[0].patch.value.typed_config.config.allow_on_header_stop_iteration = true;
    });
    const { status, output } = validate("istio", file);
    assert.equal(status, 1, output);
    assert.match(output, /^FAIL istioctl validate/m);
    assert.match(output, /allow_on_header_stop_iteration/);
  },
);

// istioctl analyze without a cluster ignores the Kubernetes objects of files, so it cannot tell whether a route's
// destination exists: this does, for the Istio and Higress routes and the filter's cluster names.
test("envoy/k8s: the Service serves every port the routes and the filter's clusters name; the sidecar's catalog", () => {
  const objects = docs("envoy/k8s/mcp-demo.yaml");
  const service = objects.find((o) => o.kind === "Service")!;
  const at = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
  const ports = new Set(service.spec.ports.map((p: Json) => p.port));
  // Every container port the Service targets exists in the Deployment the Service selects.
  const deployment = objects.find((o) => o.kind === "Deployment")!;
  const podLabels = deployment.spec.template.metadata.labels;
  for (const [label, value] of Object.entries(service.spec.selector)) assert.equal(podLabels[label], value, label);
  const containerPorts = deployment.spec.template.spec.containers.flatMap((c: Json) =>
    c.ports.map((p: Json) => p.name),
  );
  for (const port of service.spec.ports) assert.ok(containerPorts.includes(port.targetPort), port.name);

  const named: string[] = [];
  for (const route of docs("envoy/istio/routes.yaml").find((d) => d.kind === "VirtualService")!.spec.http) {
    for (const { destination } of route.route) named.push(`${destination.host}:${destination.port.number}`);
  }
  for (const ingress of docs("envoy/higress/ingress.yaml")) {
    const { backend } = ingress.spec.rules[0].http.paths[0];
    named.push(
      `${backend.service.name}.${ingress.metadata.namespace}.svc.cluster.local:${backend.service.port.number}`,
    );
  }
  const clusters = [
    ...JSON.parse(
      docs("envoy/istio/envoyfilter.yaml")[0].spec.configPatches[0].patch.value.typed_config.config.configuration.value,
    ).servers,
    ...docs("envoy/istio/wasmplugin.yaml")[0].spec.pluginConfig.servers,
    ...docs("envoy/higress/wasmplugin.yaml")[0].spec.matchRules.map((rule: Json) => rule.config.server),
  ].map((server: Json) => server.cluster.split("|"));
  for (const [, port, , host] of clusters) named.push(`${host}:${port}`);
  assert.ok(named.length > 0);
  for (const target of named) assert.ok(target.startsWith(`${at}:`) && ports.has(Number(target.split(":")[1])), target);

  const configMap = objects.find((o) => o.kind === "ConfigMap")!;
  const mount = deployment.spec.template.spec.containers[0].volumeMounts[0].mountPath;
  assert.ok(deployment.spec.template.spec.containers[0].args.includes(`${mount}/sidecar.json`));
  assert.deepEqual(JSON.parse(configMap.data["sidecar.json"]), parse(read("envoy/sidecar.json")));
});
