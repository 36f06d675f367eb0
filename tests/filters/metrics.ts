// Defines a counter, a gauge and a histogram; every request increments the counter, sets the gauge to 42 and
// records 7 in the histogram, then logs what get_metric reads back for the counter and the gauge.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, log, LogLevelValues, FilterHeadersStatusValues,
  define_metric, increment_metric, record_metric, get_metric, MetricTypeValues,
} from "@solo-io/proxy-runtime/assembly";

function define(typ: MetricTypeValues, name: string): u32 {
  const defined = define_metric(typ, name);
  log(LogLevelValues.info, "define " + name + " result=" + (<i32>defined.result).toString());
  return defined.metric_id;
}

function readBack(label: string, id: u32): void {
  const got = get_metric(id);
  log(LogLevelValues.info, "get_metric " + label + " result=" + (<i32>got.result).toString() + " value=" + got.data.toString());
}

class Stream extends Context {
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    const root = this.root_context as Root;
    increment_metric(root.counter, 1);
    record_metric(root.gauge, 42);
    record_metric(root.histogram, 7);
    readBack("counter", root.counter);
    readBack("gauge", root.gauge);
    return FilterHeadersStatusValues.Continue;
  }
}

class Root extends RootContext {
  counter: u32 = 0;
  gauge: u32 = 0;
  histogram: u32 = 0;
  onConfigure(size: u32): bool {
    this.counter = define(MetricTypeValues.Counter, "emutest_requests");
    this.gauge = define(MetricTypeValues.Gauge, "emutest_level");
    this.histogram = define(MetricTypeValues.Histogram, "emutest_sizes");
    return super.onConfigure(size);
  }
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "metrics");
