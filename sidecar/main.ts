// The mcp-sidecar command: mcp-sidecar --config <file> [--host 127.0.0.1] [--port 8081]
import { parseArgs } from "node:util";
import { startSidecar } from "./app.ts";
import { CatalogError, loadCatalog } from "./catalog.ts";
import { createLogger } from "./log.ts";

const USAGE = "usage: mcp-sidecar --config <file> [--host 127.0.0.1] [--port 8081]";

async function main(): Promise<void> {
  const log = createLogger();
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help) return void console.log(USAGE);
  if (!values.config) return fail(`--config is required\n${USAGE}`);
  const port = Number(values.port ?? 8081);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`--port must be 0..65535\n${USAGE}`);
  let catalog;
  try {
    catalog = loadCatalog(values.config);
  } catch (error) {
    if (error instanceof CatalogError) return fail(error.message);
    throw error;
  }
  const sidecar = await startSidecar(catalog, { host: values.host ?? "127.0.0.1", port, log });
  const shutdown = (signal: string) => {
    log.info("shutting down", { signal });
    // Belt and braces: whatever happens, the process is gone by the end of the grace period.
    setTimeout(() => process.exit(0), catalog.global.gracePeriodMs).unref();
    void sidecar.close().then(() => process.exit(0));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

function fail(message: string): void {
  process.stderr.write(`mcp-sidecar: ${message}\n`);
  process.exitCode = 2;
}

await main();
