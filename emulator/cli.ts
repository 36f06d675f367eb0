// envoy-emulator -c <envoy.yaml> [-l LEVEL]: serves an Envoy bootstrap with the real .wasm until SIGINT/SIGTERM.
import { parseArgs } from "node:util";
import { LOG_LEVELS } from "./wasm/abi.ts";
import type { LogLevelName } from "./api.ts";
import { startEmulator } from "./index.ts";

const usage = "usage: envoy-emulator -c <envoy.yaml> [-l trace|debug|info|warn|error|critical]";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "config-path": { type: "string", short: "c" },
      "log-level": { type: "string", short: "l", default: "info" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values["config-path"]) {
    console.error(usage);
    process.exit(values.help ? 0 : 1);
  }
  const level = values["log-level"] as LogLevelName;
  if (!LOG_LEVELS.includes(level)) throw new Error(`unknown log level "${level}"\n${usage}`);
  const emulator = await startEmulator({ configPath: values["config-path"], logLevel: level });
  for (const l of emulator.listeners) console.log(`envoy-emulator: listener ${l.name || "(unnamed)"} at ${l.url}`);
  if (emulator.adminUrl) console.log(`envoy-emulator: admin at ${emulator.adminUrl}`);
  const stop = async () => {
    await emulator.close();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: Error) => {
  console.error(`envoy-emulator: ${error.message}`);
  process.exit(1);
});
