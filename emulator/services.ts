// Host state shared by every plugin VM of one emulator process: metrics, shared data and queues, logging.
import type { EmulatorLogLine, LogLevelName } from "./api.ts";
import { LOG_LEVELS, MetricType, WasmResult } from "./wasm/abi.ts";

interface Metric { name: string; type: MetricType; value: bigint; samples: number[] }

// Envoy encodes the metric type in the low bits of the id it hands out.
const METRIC_TYPE_MASK = 0x3;
const METRIC_ID_INCREMENT = 0x4;
const HISTOGRAM_SAMPLES_KEPT = 10_000;

export class MetricStore {
  private readonly byId = new Map<number, Metric>();
  private readonly byName = new Map<string, number>();
  private nextIndex = 1;

  define(type: MetricType, name: string): number {
    const existing = this.byName.get(name);
    if (existing !== undefined && (existing & METRIC_TYPE_MASK) === type) return existing;
    const id = this.nextIndex++ * METRIC_ID_INCREMENT + type;
    this.byId.set(id, { name, type, value: 0n, samples: [] });
    this.byName.set(name, id);
    return id;
  }

  increment(id: number, offset: bigint): WasmResult {
    const metric = this.byId.get(id);
    if (!metric) return WasmResult.NotFound;
    if (metric.type === MetricType.Histogram) return WasmResult.BadArgument;
    if (metric.type === MetricType.Counter && offset < 0n) return WasmResult.BadArgument;
    metric.value += offset;
    return WasmResult.Ok;
  }

  record(id: number, value: bigint): WasmResult {
    const metric = this.byId.get(id);
    if (!metric) return WasmResult.NotFound;
    if (metric.type === MetricType.Counter) metric.value += value;
    else if (metric.type === MetricType.Gauge) metric.value = value;
    else {
      metric.samples.push(Number(value));
      if (metric.samples.length > HISTOGRAM_SAMPLES_KEPT) metric.samples.shift();
    }
    return WasmResult.Ok;
  }

  get(id: number): bigint | WasmResult {
    const metric = this.byId.get(id);
    if (!metric) return WasmResult.NotFound;
    if (metric.type === MetricType.Histogram) return WasmResult.BadArgument;
    return metric.value;
  }

  /** Counters and gauges by name; histograms report their sample count. */
  snapshot(): Map<string, number> {
    const out = new Map<string, number>();
    for (const m of this.byId.values()) out.set(m.name, m.type === MetricType.Histogram ? m.samples.length : Number(m.value));
    return out;
  }

  /** Envoy's admin /stats text format. */
  statsText(): string {
    const lines = [...this.byId.values()].sort((a, b) => a.name.localeCompare(b.name)).map((m) => {
      if (m.type !== MetricType.Histogram) return `${m.name}: ${m.value}`;
      return `${m.name}: ${histogramSummary(m.samples)}`;
    });
    return lines.join("\n") + (lines.length ? "\n" : "");
  }
}

function histogramSummary(samples: number[]): string {
  if (samples.length === 0) return "No recorded values";
  const sorted = [...samples].sort((a, b) => a - b);
  const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1].map((q) => `P${q * 100}(${quantile(q)},${quantile(q)})`).join(" ");
}

interface SharedValue { value: Buffer; cas: number }
interface Queue { vmId: string; name: string; rootContextId: number; notify: (token: number) => void; items: Buffer[] }

/** Shared data and queues, scoped by vm_id as in Envoy (they outlive any one plugin). */
export class SharedState {
  private readonly data = new Map<string, SharedValue>();
  private readonly queues = new Map<number, Queue>();
  private nextCas = 1;
  private nextToken = 1;

  get(vmId: string, key: string): SharedValue | undefined {
    return this.data.get(`${vmId}\0${key}`);
  }

  set(vmId: string, key: string, value: Buffer, cas: number): WasmResult {
    const current = this.data.get(`${vmId}\0${key}`);
    if (cas !== 0 && current && current.cas !== cas) return WasmResult.CasMismatch;
    this.data.set(`${vmId}\0${key}`, { value, cas: this.nextCas++ });
    return WasmResult.Ok;
  }

  register(vmId: string, name: string, rootContextId: number, notify: (token: number) => void): number {
    for (const [token, queue] of this.queues) {
      if (queue.vmId === vmId && queue.name === name) {
        Object.assign(queue, { rootContextId, notify });
        return token;
      }
    }
    const token = this.nextToken++;
    this.queues.set(token, { vmId, name, rootContextId, notify, items: [] });
    return token;
  }

  resolve(vmId: string, name: string): number | undefined {
    for (const [token, queue] of this.queues) if (queue.vmId === vmId && queue.name === name) return token;
    return undefined;
  }

  enqueue(token: number, value: Buffer): WasmResult {
    const queue = this.queues.get(token);
    if (!queue) return WasmResult.NotFound;
    queue.items.push(value);
    // Envoy posts the notification to the registering VM's dispatcher: never synchronous.
    setImmediate(() => queue.notify(token));
    return WasmResult.Ok;
  }

  dequeue(token: number): Buffer | WasmResult {
    const queue = this.queues.get(token);
    if (!queue) return WasmResult.NotFound;
    return queue.items.shift() ?? WasmResult.Empty;
  }
}

export class Logger {
  readonly lines: EmulatorLogLine[] = [];
  private readonly threshold: number;

  constructor(level: LogLevelName, private readonly quiet: boolean) {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  get levelIndex(): number {
    return this.threshold;
  }

  log(level: LogLevelName, source: string, message: string): void {
    this.lines.push({ level, source, message });
    if (this.quiet || LOG_LEVELS.indexOf(level) < this.threshold) return;
    const line = `[${new Date().toISOString()}][${level}][${source}] ${message}\n`;
    (LOG_LEVELS.indexOf(level) >= 4 ? process.stderr : process.stdout).write(line);
  }
}
