// Exercises shared data (get/set with CAS) and shared queues (register on the root, resolve and enqueue from a
// stream, on_queue_ready on the root, dequeue until Empty) through the patched SDK wrappers.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, log, LogLevelValues, FilterHeadersStatusValues,
  get_shared_data, set_shared_data, register_shared_queue, resolve_shared_queue, enqueue_shared_queue,
} from "@solo-io/proxy-runtime/assembly";

// Raw call: the SDK's dequeue_shared_queue does not compile under AssemblyScript 0.27 (DequeueSharedQueueResult.data
// has no initializer).
// @ts-ignore: decorator
@external("env", "proxy_dequeue_shared_queue") declare function proxy_dequeue_shared_queue(token: u32, dataPtr: usize, dataLen: usize): u32;

/** Dequeues one item; returns "result=R data=D". */
function dequeue(token: u32): string {
  const out = new ArrayBuffer(8);
  const result = proxy_dequeue_shared_queue(token, changetype<usize>(out), changetype<usize>(out) + 4);
  const data = result == 0 ? String.UTF8.decodeUnsafe(load<u32>(changetype<usize>(out)), load<u32>(changetype<usize>(out) + 4)) : "";
  return "result=" + result.toString() + " data=" + data;
}

function say(message: string): void { log(LogLevelValues.info, message); }

function bytes(text: string): ArrayBuffer { return String.UTF8.encode(text); }

function getKey(label: string): u32 {
  const got = get_shared_data("k");
  say(label + " result=" + (<i32>got.result).toString() + " value=" + String.UTF8.decode(got.value) + " cas=" + got.cas.toString());
  return got.cas;
}

/** True while this VM is inside enqueue_shared_queue: an on_queue_ready seen then would be synchronous. */
let enqueuing = false;

class Stream extends Context {
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    getKey("get-first");
    say("set-v1 result=" + (<i32>set_shared_data("k", bytes("v1"))).toString());
    const cas = getKey("get-v1");
    say("set-stale-cas result=" + (<i32>set_shared_data("k", bytes("stale"), cas + 1000)).toString());
    say("set-cas result=" + (<i32>set_shared_data("k", bytes("v2"), cas)).toString());
    getKey("get-v2");
    const queue = resolve_shared_queue("", "events");
    const root = this.root_context as Root;
    say("resolve result=" + (<i32>queue.result).toString() + " same-token=" + (queue.token == root.token ? "1" : "0"));
    enqueuing = true;
    const enqueued = enqueue_shared_queue(queue.token, bytes("hello"));
    enqueuing = false;
    say("enqueue result=" + (<i32>enqueued).toString());
    return FilterHeadersStatusValues.Continue;
  }
}

class Root extends RootContext {
  token: u32 = 0;
  onConfigure(size: u32): bool {
    const queue = register_shared_queue("events");
    this.token = queue.token;
    say("register result=" + (<i32>queue.result).toString());
    return super.onConfigure(size);
  }
  onQueueReady(token: u32): void {
    say("on_queue_ready ctx=" + this.context_id.toString() + " same-token=" + (token == this.token ? "1" : "0") +
      " during-enqueue=" + (enqueuing ? "1" : "0"));
    say("dequeue " + dequeue(token));
    say("dequeue-again " + dequeue(token));
  }
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "shared");
