// The emulator (with the filter) in a process of its own, so that in the end-to-end runs the load generator and
// the backend do not share its event loop. Control over IPC: {yaml} starts it and answers {url}; "wasmTime"
// answers emu.wasmTime() (ns as strings); "timingOverhead" answers emu.timingOverhead(); {nodeWork} sets the Node
// baseline's work and "nodeOnce" runs it once, timed like an export, between the emulator's requests, answering
// {nodeNs}; the parent's disconnect ends it.
import { startEmulator } from "../../emulator/index.ts";
import type { Emulator } from "../../emulator/api.ts";
import { fullWork } from "../lib/node-baseline.ts";

let emu: Emulator | undefined;
let nodeWork: (() => unknown) | undefined;
let sink = 0;

/** One run of the Node baseline, timed with the clock the emulator times exports with. */
function nodeOnce(): number {
  const started = process.hrtime.bigint();
  const reply = nodeWork!();
  const ns = Number(process.hrtime.bigint() - started);
  sink += typeof reply === "string" ? reply.length : 0;
  return ns;
}

process.on("message", async (message: any) => {
  try {
    if (message.yaml) {
      emu = await startEmulator({ yaml: message.yaml, quiet: true });
      process.send!({ url: emu.listeners[0].url });
    } else if (message === "wasmTime") {
      const timings = Object.fromEntries([...emu!.wasmTime()].map(([name, t]) => [name, { calls: t.calls, ns: String(t.ns) }]));
      process.send!({ timings });
    } else if (message === "timingOverhead") {
      process.send!({ overhead: emu!.timingOverhead() });
    } else if (message.nodeWork) {
      nodeWork = fullWork(message.nodeWork);
      process.send!({ nodeReady: true });
    } else if (message === "nodeOnce") {
      process.send!({ nodeNs: nodeOnce() });
    } else if (message === "logs") {
      process.send!({ logs: emu!.logs.filter((l) => l.level !== "debug" && l.level !== "trace").slice(-20) });
    }
  } catch (error) {
    process.send!({ error: String(error) });
  }
});
process.on("disconnect", async () => {
  if (sink < 0) console.error(sink);
  await emu?.close();
  process.exit(0);
});
