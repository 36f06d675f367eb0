// The filter's metrics for one configuration (root context). Envoy runs every configuration that shares the code
// and vm_id in one VM, and its metrics are named, not owned: every name starts with the configuration's prefix
// (`statPrefix`, else Envoy's plugin name), so two configurations never add up in one counter, even when their
// servers share a name. Metric ids are per VM and cached by full name in host.ts.
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
  /** CallStats by server stat name, then by what the call is. */
  private calls: Map<string, Map<string, CallStat>> = new Map();

  constructor(public prefix: string) {}

  /** Increments `<prefix>.<name>` (its id found by name in host.ts). */
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
