// Shared plumbing for the end-to-end tests: test filters in real Envoy from a bootstrap spec, raw HTTP requests
// (node:http, so Host, duplicates and hop-by-hop headers go out as written), and polling the plugin's log lines.
import { request as httpRequest } from "node:http";
import type { TestContext } from "node:test";
import { bootstrapYaml, type BootstrapSpec } from "./bootstrap.ts";
import { ownEnvoy, type Envoy, type EnvoyOptions } from "./envoy.ts";
import { buildTestFilter } from "./sdk-build.ts";
export { repoRoot } from "./sdk-build.ts";

/** Anything with close(): closed when the test ends, pass or fail. */
export async function own<T extends { close(): Promise<void> }>(t: TestContext, thing: Promise<T>): Promise<T> {
  const value = await thing;
  t.after(() => value.close());
  return value;
}

export interface Started {
  envoy: Envoy;
  url: string;
}

/** Starts Envoy on bootstrapYaml(spec) with the named test filter (root id = filter name by default). */
export async function startWith(
  t: TestContext,
  filter: string | undefined,
  spec: Omit<BootstrapSpec, "wasm">,
  options: Omit<EnvoyOptions, "yaml"> = {},
): Promise<Started> {
  const wasm = filter === undefined ? undefined : await buildTestFilter(filter);
  const yaml = bootstrapYaml({ rootId: filter, pluginName: filter, ...spec, wasm });
  const envoy = await ownEnvoy(t, { ...options, yaml });
  return { envoy, url: envoy.url };
}

export interface Reply {
  status: number;
  /** Raw header pairs as received (lowercased names, duplicates kept, in order). */
  headers: [string, string][];
  body: string;
}

export interface RequestSpec {
  method?: string;
  path?: string;
  /** Raw header pairs, sent as written. */
  headers?: [string, string][];
  body?: string;
  /** Body sent chunked, one write per element with a pause between, so the proxy sees several reads. */
  chunks?: string[];
  /** Socket inactivity limit before the request fails; default 10 s. */
  timeoutMs?: number;
}

async function writeChunks(req: import("node:http").ClientRequest, chunks: string[]): Promise<void> {
  for (const chunk of chunks) {
    req.write(chunk);
    await new Promise((r) => setTimeout(r, 30));
  }
  req.end();
}

/** One HTTP/1.1 request on a fresh connection; resolves with the whole reply. */
export function send(url: string, spec: RequestSpec = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers = [...(spec.headers ?? [])];
    if (spec.chunks) headers.push(["transfer-encoding", "chunked"]);
    // Raw (array) headers get no default Host from node:http; HTTP/1.1 requires one.
    if (!headers.some(([k]) => k.toLowerCase() === "host")) headers.unshift(["host", new URL(url).host]);
    if (spec.body !== undefined && !headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) {
      headers.push(["content-length", String(Buffer.byteLength(spec.body))]);
    }
    const req = httpRequest(
      `${url}${spec.path ?? "/"}`,
      { method: spec.method ?? "GET", agent: false, headers: headers.flat() as unknown as Record<string, string> },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          // A test may ask for keep-alive; the connection must not outlive the exchange.
          res.socket?.destroy();
          resolve({
            status: res.statusCode ?? 0,
            headers: rawPairs(res.rawHeaders),
            body: Buffer.concat(chunks).toString(),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    // A reply that never comes fails the test instead of hanging the run.
    req.setTimeout(spec.timeoutMs ?? 10_000, () =>
      req.destroy(new Error(`no complete reply to ${spec.path ?? "/"} in time`)),
    );
    if (spec.chunks) writeChunks(req, spec.chunks).catch(reject);
    else req.end(spec.body);
  });
}

export function rawPairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}

export function header(reply: { headers: [string, string][] }, name: string): string | undefined {
  return reply.headers.find(([k]) => k === name)?.[1];
}

/** Polls until `check` returns a value other than undefined/false; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until the plugin logged a message starting with `prefix`; returns every such message. */
export function waitForLog(envoy: Envoy, prefix: string, count = 1, timeoutMs = 5000): Promise<string[]> {
  return waitFor(
    `${count} plugin log(s) starting with "${prefix}"`,
    () => {
      const lines = envoy.pluginLogs(prefix);
      return lines.length >= count && lines;
    },
    timeoutMs,
  );
}

/** The value after `key=` in the first plugin log line starting with `prefix` (filters log "prefix key=value ..."). */
export function loggedValue(envoy: Envoy, prefix: string): string | undefined {
  return envoy.pluginLogs(prefix)[0]?.slice(prefix.length);
}

/**
 * Starts Envoy on `yaml` expecting it to refuse the configuration: resolves with its error and the tail of its log
 * (the refusal is logged last, as Envoy exits); fails the test if Envoy starts.
 */
export async function envoyRefusal(
  t: TestContext,
  yaml: string,
  options: Omit<EnvoyOptions, "yaml"> = {},
): Promise<string> {
  let envoy: Envoy;
  try {
    envoy = await ownEnvoy(t, { ...options, yaml });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`Envoy ${envoy.version} started on a configuration it should refuse`);
}
