// The filter's metrics for one configuration (root context). Envoy runs every configuration that shares the code
// and vm_id in one VM, and its metrics are named, not owned: every name starts with the configuration's prefix
// (`statPrefix`, else Envoy's plugin name), so two configurations never add up in one counter, even when their
// servers share a name. Metric ids are per VM and cached by full name in host.ts; the caches here only save joining
// and hashing a name on every request.
import { HISTOGRAM, incrementMetric, metricId } from "./host";

/** Counter and latency histogram of one kind of upstream call: `<prefix>.upstream.<server>.<what>[_ms]`. */
export class CallStat {
  calls: u32;
  latency: u32;

  constructor(name: string) {
    this.calls = metricId(name);
    this.latency = metricId(name + "_ms", HISTOGRAM);
  }
}

export class Stats {
  /** Counter ids under a caller's integer key (see counted). */
  private counters: Map<i64, u32> = new Map();
  /** CallStats by server stat name, then by what the call is. */
  private calls: Map<string, Map<string, CallStat>> = new Map();

  constructor(public prefix: string) {}

  /**
   * Increments the counter cached under `key` (the caller's encoding of the name's parts); false when there is none
   * yet: then call countAs with the name.
   */
  counted(key: i64): bool {
    if (!this.counters.has(key)) return false;
    incrementMetric(this.counters.get(key));
    return true;
  }

  /** Defines (or finds) `<prefix>.<name>`, caches it under `key` and increments it. */
  countAs(key: i64, name: string): void {
    const id = metricId(this.prefix + "." + name);
    this.counters.set(key, id);
    incrementMetric(id);
  }

  /** Increments `<prefix>.<name>` (for rare events: the name is joined every time). */
  count(name: string): void {
    incrementMetric(metricId(this.prefix + "." + name));
  }

  call(serverStatName: string, what: string): CallStat {
    if (!this.calls.has(serverStatName)) this.calls.set(serverStatName, new Map());
    const byWhat = this.calls.get(serverStatName);
    if (!byWhat.has(what)) byWhat.set(what, new CallStat(this.prefix + ".upstream." + serverStatName + "." + what));
    return byWhat.get(what);
  }
}
