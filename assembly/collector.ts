// When garbage is collected. The filter is built with AssemblyScript's minimal runtime and its own collector
// (runtime.ts): a stop-the-world mark-and-sweep that runs only when asked. The incremental runtime it replaces put
// a write barrier on every reference store and a collector step inside allocations, which cost a third of a warm
// tools/call. The collector does not scan the wasm stack, so it may only run when no export is on it: the export
// wrappers in exports.ts track that depth and collect on the way out of the outermost call. After each collection
// a VM that serves streams (a worker's) publishes its linear memory size as a gauge (memory never shrinks, so it
// shows the high-water mark the collector keeps the module to).
import { GAUGE, metricId, recordMetric } from "./host";

/** Per VM, not per configuration: every configuration in the VM shares its memory. */
const MEMORY_GAUGE = "mcp_proxy.vm.linear_memory_bytes";

/** Bytes the host had the module allocate (bodies, header maps) since the last collection. */
const COLLECT_AFTER_HOST_BYTES: usize = 1 << 20;
/** Streams ended since the last collection: each leaves a few kilobytes of small objects. */
const COLLECT_AFTER_STREAMS: i32 = 128;

let depth: i32 = 0;
/** Streams this VM has served: the main thread's VM serves none, and must not overwrite the workers' gauge. */
let servedStreams: i64 = 0;
let hostBytes: usize = 0;
let endedStreams: i32 = 0;
/** Set on every entry: a tick collects whatever any call left since the last collection. */
let dirty: bool = false;

export function enter(): void {
  depth++;
  dirty = true;
}

/** Leaves an export; the outermost one collects when enough garbage may have piled up (or always, `force`). */
export function leave(force: bool = false): void {
  if (--depth > 0) return;
  if (force ? dirty : hostBytes >= COLLECT_AFTER_HOST_BYTES || endedStreams >= COLLECT_AFTER_STREAMS) collect();
}

export function noteHostAllocation(size: usize): void {
  hostBytes += size;
}

export function noteStreamEnded(): void {
  endedStreams++;
  servedStreams++;
}

function collect(): void {
  __collect();
  hostBytes = 0;
  endedStreams = 0;
  dirty = false;
  if (servedStreams > 0) recordMetric(metricId(MEMORY_GAUGE, GAUGE), (<i64>memory.size()) << 16);
}
