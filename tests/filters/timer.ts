// Ticks every 20 ms on the root context, logs each on_tick, and disables the timer (period 0) after the third.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import { RootContext, Context, registerRootContext, log, LogLevelValues, set_tick_period_milliseconds } from "@solo-io/proxy-runtime/assembly";

class Root extends RootContext {
  ticks: i32 = 0;
  onConfigure(size: u32): bool {
    set_tick_period_milliseconds(20);
    return super.onConfigure(size);
  }
  onTick(): void {
    this.ticks++;
    log(LogLevelValues.info, "tick n=" + this.ticks.toString() + " ctx=" + this.context_id.toString());
    if (this.ticks == 3) set_tick_period_milliseconds(0);
  }
  createContext(id: u32): Context { return new Context(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "timer");
