// Reports properties as Envoy encodes them (strings raw, ints 8-byte little-endian, maps in the pairs format, paths
// NUL-joined) and, when the request carries `x-reroute: PATH`, rewrites :path so the router must re-select the route.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, log, LogLevelValues, FilterHeadersStatusValues, stream_context,
} from "@solo-io/proxy-runtime/assembly";

// Raw call: the SDK's get_property traps on NotFound, which one of the checks expects.
// @ts-ignore: decorator
@external("env", "proxy_get_property") declare function get_property(path: usize, pathLen: usize, valuePtr: usize, valueLen: usize): u32;

class Property {
  constructor(public result: u32, public value: ArrayBuffer) {}
}

function read(path: string): Property {
  const name = String.UTF8.encode(path);
  const out = new ArrayBuffer(8);
  const result = get_property(changetype<usize>(name), name.byteLength, changetype<usize>(out), changetype<usize>(out) + 4);
  const len = load<u32>(changetype<usize>(out) + 4);
  const value = new ArrayBuffer(result == 0 ? len : 0);
  if (result == 0 && len > 0) memory.copy(changetype<usize>(value), load<u32>(changetype<usize>(out)), len);
  return new Property(result, value);
}

function say(message: string): void { log(LogLevelValues.info, message); }

/** Logs "prop DOTTED result=R value=V"; `kind` picks the decoding: "s" string, "i" int64, "m" map (key of x-probe). */
function report(dotted: string, kind: string): void {
  const prop = read(dotted.replaceAll(".", "\0"));
  let value = "";
  if (kind == "s") value = String.UTF8.decode(prop.value);
  else if (kind == "i" && prop.value.byteLength == 8) value = load<i64>(changetype<usize>(prop.value)).toString();
  else if (kind == "m") value = mapLookup(prop.value, "x-probe");
  say("prop " + dotted + " result=" + prop.result.toString() + " value=" + value);
}

/** Looks a key up in a pairs-format map; returns "count=N KEY=VALUE". */
function mapLookup(map: ArrayBuffer, key: string): string {
  if (map.byteLength < 4) return "count=0";
  const base = changetype<usize>(map);
  const count = load<u32>(base);
  let data = base + 4 + 8 * count;
  let found = "";
  for (let i: u32 = 0; i < count; i++) {
    const keyLen = load<u32>(base + 4 + 8 * i);
    const valueLen = load<u32>(base + 8 + 8 * i);
    const k = String.UTF8.decodeUnsafe(data, keyLen);
    const v = String.UTF8.decodeUnsafe(data + keyLen + 1, valueLen);
    if (k == key && found == "") found = v;
    data += keyLen + valueLen + 2;
  }
  return "count=" + count.toString() + " " + key + "=" + found;
}

class Stream extends Context {
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    report("plugin_root_id", "s");
    report("plugin_name", "s");
    report("request.path", "s");
    report("request.url_path", "s");
    report("request.host", "s");
    report("request.method", "s");
    report("request.headers", "m");
    report("source.address", "s");
    report("xds.cluster_name", "s");
    report("xds.route_name", "s");
    // A dotted path is one segment named "request.path": Envoy does not know it.
    const dotted = String.UTF8.encode("request.path");
    say("prop dotted-request.path result=" + get_property(changetype<usize>(dotted), dotted.byteLength, changetype<usize>(new ArrayBuffer(8)), changetype<usize>(new ArrayBuffer(8))).toString());
    const reroute = stream_context.headers.request.get("x-reroute");
    if (reroute != "") stream_context.headers.request.replace(":path", reroute);
    return FilterHeadersStatusValues.Continue;
  }
  onResponseHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    report("response.code", "i");
    report("xds.cluster_name", "s");
    return FilterHeadersStatusValues.Continue;
  }
}

class Root extends RootContext {
  onConfigure(size: u32): bool {
    say("root plugin_root_id=" + String.UTF8.decode(read("plugin_root_id").value));
    say("root plugin_name=" + String.UTF8.decode(read("plugin_name").value));
    return super.onConfigure(size);
  }
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "properties");
