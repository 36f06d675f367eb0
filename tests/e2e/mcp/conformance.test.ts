// The official MCP conformance runner (@modelcontextprotocol/conformance 0.1.16, its active 2025 server suite) against
// our conformance backend (tests/fixtures/conformance, Streamable HTTP with JSON replies), directly and through real
// Envoy with the filter in pass-through mode, compared scenario by scenario: pass-through must change no result.
// This is one cell of `npm run conformance` (scripts/conformance.ts), which runs every suite, backend kind and mode.
// The runner and Node 22 come from ~/.cache/mcp-proxy-wasm/conformance/ (installed from npm on first use); without
// the npm registry the test fails saying so, it never skips.
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderMarkdown, runMatrix } from "../../../scripts/conformance.ts";

test(
  "conformance 2025 suite: every scenario passes against the backend directly and gives the same result through the filter in pass-through mode",
  { timeout: 10 * 60_000 },
  async () => {
    const result = await runMatrix({
      suites: ["2025"],
      kinds: ["http-json"],
      modes: ["passthrough"],
      say: () => undefined,
    });
    const report = renderMarkdown(result);
    assert.deepEqual(result.problems, [], report);
    const direct = result.runs.find((run) => run.target === "direct")!;
    const failingDirectly = [...direct.scenarios.values()]
      .filter((scenario) => !scenario.passed)
      .map((scenario) => scenario.scenario);
    assert.ok(
      direct.scenarios.size >= 30,
      `the active 2025 suite has 30 server scenarios; got ${direct.scenarios.size}\n${report}`,
    );
    assert.deepEqual(failingDirectly, [], `the backend must pass every scenario directly\n${report}`);
    assert.deepEqual(
      result.differences.map((d) => `${d.scenario}: directly ${d.direct}, through the gateway ${d.gateway}`),
      [],
      report,
    );
  },
);
