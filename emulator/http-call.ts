// proxy_http_call as Envoy's async HTTP client runs it: one request to a named cluster, the whole response
// buffered, Envoy's own 504/503 replies for timeouts and connect failures, and a reset after the response started
// reported as (0, 0, 0).
import { HeaderMap, responseHeadersFromNode, type HeaderList } from "./headers.ts";
import { connectFailureBody, type Cluster } from "./upstream.ts";
import type { HttpCaller, HttpCallResult } from "./wasm/vm.ts";

function envoyReply(status: number, body: string): HttpCallResult {
  const data = Buffer.from(body);
  return {
    headers: [[":status", String(status)], ["content-length", String(data.length)], ["content-type", "text/plain"]],
    body: data,
    trailers: [],
  };
}

export function dispatchHttpCall(clusters: Map<string, Cluster>): HttpCaller["start"] {
  return (clusterName, headerList: HeaderList, body, timeoutMs, done) => {
    const cluster = clusters.get(clusterName);
    if (!cluster) return "unknown_cluster";
    if (!cluster.hasEndpoints) return "no_endpoints";
    const headers = new HeaderMap(headerList);
    let settled = false;
    const finish = (result: HttpCallResult | "reset") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(result);
    };
    let abort = () => {};
    const timer = timeoutMs > 0 ? setTimeout(() => {
      abort();
      finish(envoyReply(504, "upstream request timeout"));
    }, timeoutMs) : undefined;
    const flat = dropHostPairs(["host", headers.get(":authority") ?? "", ...headers.toNodeFlat()]);
    cluster.request({
      method: headers.get(":method")!,
      path: headers.get(":path")!,
      headers: flat,
      onFailure: (reason) => finish(envoyReply(503, connectFailureBody(reason))),
      onResponse: (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", () => finish("reset"));
        response.on("aborted", () => finish("reset"));
        response.on("end", () => finish({
          headers: responseHeadersFromNode(response.statusCode ?? 502, response.rawHeaders).entries,
          body: Buffer.concat(chunks),
          trailers: pairsOf(response.rawTrailers),
        }));
      },
    }).then((request) => {
      abort = () => request.destroy();
      if (settled) request.destroy();
      else request.end(body);
    }, () => finish(envoyReply(503, connectFailureBody("connect_failure"))));
    return "ok";
  };
}

/** Keeps the first host pair (from :authority) and drops any host header the plugin added itself. */
function dropHostPairs(flat: string[]): string[] {
  const out = flat.slice(0, 2);
  for (let i = 2; i < flat.length; i += 2) if (flat[i] !== "host") out.push(flat[i], flat[i + 1]);
  return out;
}

function pairsOf(raw: string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}
