// The emulator (with the filter) in a process of its own, so that in the end-to-end runs the load generator and
// the backend do not share its event loop. Control over IPC: {yaml} starts it and answers {url}; "wasmTime"
// answers emu.wasmTime() (ns as strings); the parent's disconnect ends it.
import { startEmulator } from "../../emulator/index.ts";
import type { Emulator } from "../../emulator/api.ts";

let emu: Emulator | undefined;

process.on("message", async (message: any) => {
  try {
    if (message.yaml) {
      emu = await startEmulator({ yaml: message.yaml, quiet: true });
      process.send!({ url: emu.listeners[0].url });
    } else if (message === "wasmTime") {
      const timings = Object.fromEntries([...emu!.wasmTime()].map(([name, t]) => [name, { calls: t.calls, ns: String(t.ns) }]));
      process.send!({ timings });
    } else if (message === "logs") {
      process.send!({ logs: emu!.logs.filter((l) => l.level !== "debug" && l.level !== "trace").slice(-20) });
    }
  } catch (error) {
    process.send!({ error: String(error) });
  }
});
process.on("disconnect", async () => {
  await emu?.close();
  process.exit(0);
});
