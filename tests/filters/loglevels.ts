// Logs one line at each level (trace .. critical) when configured, and echoes its plugin configuration, so tests
// can check log levels and what onConfigure read (including an empty configuration).
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext, log, LogLevelValues } from "@solo-io/proxy-runtime/assembly";

class Root extends RootContext {
  onConfigure(size: u32): bool {
    const ok = super.onConfigure(size);
    log(LogLevelValues.info, "config size=" + size.toString() + " text=[" + this.getConfiguration() + "]");
    const names = ["trace", "debug", "info", "warn", "error", "critical"];
    for (let level = 0; level < names.length; level++) log(<LogLevelValues>level, "level " + names[level]);
    return ok;
  }
  createContext(id: u32): Context { return new Context(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "loglevels");
