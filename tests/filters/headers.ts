// Reports the header maps exactly as the host hands them over (order, case, duplicates) plus the result codes of
// the edge cases: missing key, removing an absent key, get_header_map_size (bytes, not entries). With the request
// header `x-mutate: 1` it then changes both maps through the SDK's replace / remove / add, as the filter does.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, log, LogLevelValues, FilterHeadersStatusValues, stream_context,
  HeaderMapTypeValues, Headers,
} from "@solo-io/proxy-runtime/assembly";

// Raw host calls: the SDK wrappers hide the result codes (or trap on them) that these tests check.
// @ts-ignore: decorator
@external("env", "proxy_get_header_map_size") declare function get_size(typ: u32, size: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_get_header_map_value") declare function get_value(typ: u32, key: usize, keyLen: usize, valuePtr: usize, valueLen: usize): u32;
// @ts-ignore: decorator
@external("env", "proxy_remove_header_map_value") declare function remove_value(typ: u32, key: usize, keyLen: usize): u32;

function report(side: string, typ: HeaderMapTypeValues, pairs: Headers): void {
  for (let i = 0; i < pairs.length; i++) {
    log(LogLevelValues.info, side + "-hdr " + String.UTF8.decode(pairs[i].key) + "=" + String.UTF8.decode(pairs[i].value));
  }
  const out = new ArrayBuffer(8);
  const sizeResult = get_size(typ, changetype<usize>(out));
  log(LogLevelValues.info, side + "-size result=" + sizeResult.toString() + " bytes=" + load<u32>(changetype<usize>(out)).toString());
  const missing = String.UTF8.encode("x-not-there");
  const getResult = get_value(typ, changetype<usize>(missing), missing.byteLength, changetype<usize>(out), changetype<usize>(out) + 4);
  log(LogLevelValues.info, side + "-get-missing result=" + getResult.toString());
  const removeResult = remove_value(typ, changetype<usize>(missing), missing.byteLength);
  log(LogLevelValues.info, side + "-remove-absent result=" + removeResult.toString());
}

class Stream extends Context {
  mutate: bool = false;
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    const request = stream_context.headers.request;
    report("req", HeaderMapTypeValues.RequestHeaders, request.get_headers());
    // Lookups lowercase the key and return the first of duplicated values.
    log(LogLevelValues.info, "req-get X-Dup=" + request.get("X-Dup"));
    this.mutate = request.get("x-mutate") == "1";
    if (this.mutate) {
      request.replace("x-rep", "R");
      request.replace("x-new", "N");
      request.remove("x-gone");
      request.add("x-add", "1");
      request.add("x-add", "2");
    }
    return FilterHeadersStatusValues.Continue;
  }
  onResponseHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    const response = stream_context.headers.response;
    report("resp", HeaderMapTypeValues.ResponseHeaders, response.get_headers());
    if (this.mutate) {
      response.replace("x-upstream", "replaced");
      response.remove("content-type");
      response.add("x-resp-add", "1");
    }
    return FilterHeadersStatusValues.Continue;
  }
}

class Root extends RootContext {
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "headers");
