// startEmulator: serves an Envoy bootstrap on real sockets — listeners with the HTTP connection manager, the wasm
// filters loaded as Envoy loads them, clusters, and the admin endpoint.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { AccessLogEntry, Emulator, EmulatorOptions, ListenerInfo } from "./api.ts";
import { parseBootstrap, readBootstrap, type BootstrapConfig, type WasmFilterConfig } from "./config.ts";
import { ActiveStream } from "./http-stream.ts";
import { Logger, MetricStore, SharedState } from "./services.ts";
import { Cluster } from "./upstream.ts";
import { dispatchHttpCall } from "./http-call.ts";
import { PluginVm } from "./wasm/vm.ts";
import { timingOverhead } from "./wasm/stopwatch.ts";

export type { Emulator, EmulatorOptions } from "./api.ts";

const DEFAULT_BUFFER_LIMIT = 1024 * 1024;

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  let config: BootstrapConfig;
  if (options.yaml !== undefined) config = parseBootstrap(options.yaml);
  else if (options.configPath !== undefined) config = readBootstrap(options.configPath);
  else throw new Error("startEmulator needs yaml or configPath");

  const logger = new Logger(options.logLevel ?? "info", options.quiet ?? false);
  const metrics = new MetricStore();
  const shared = new SharedState();
  const clusters = new Map([...config.clusters].map(([name, c]) => [name, new Cluster(c)]));
  const httpCaller = { start: dispatchHttpCall(clusters) };
  const vms: PluginVm[] = [];
  const accessLog: AccessLogEntry[] = [];
  const servers: http.Server[] = [];
  const close = async () => {
    await Promise.all(servers.map(closeServer));
    vms.forEach((vm) => vm.close());
    clusters.forEach((c) => c.close());
  };

  try {
    const listeners: ListenerInfo[] = [];
    for (const listener of config.listeners) {
      const listenerVms = new Map<WasmFilterConfig, PluginVm>();
      for (const filter of listener.httpFilters) {
        if (filter.kind !== "wasm") continue;
        const vm = new PluginVm(filter, { logger, metrics, shared, http: httpCaller });
        await vm.start();
        vms.push(vm);
        listenerVms.set(filter, vm);
      }
      const env = { listener, clusters, vms: listenerVms, logger, bufferLimit: DEFAULT_BUFFER_LIMIT, accessLog: (e: AccessLogEntry) => accessLog.push(e) };
      const server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => new ActiveStream(env, req, res).start());
      // Envoy has no request-level timeout of its own beyond stream_idle_timeout.
      server.requestTimeout = 0;
      server.headersTimeout = 60_000;
      servers.push(server);
      const port = await listen(server, listener.address.host, listener.address.port);
      listeners.push({ name: listener.name, port, url: `http://${listener.address.host === "0.0.0.0" ? "127.0.0.1" : listener.address.host}:${port}` });
      logger.log("info", "emulator", `listener "${listener.name}" on ${listener.address.host}:${port}`);
    }
    let adminUrl: string | undefined;
    if (config.admin) {
      const admin = http.createServer((req, res) => serveAdmin(req, res, metrics));
      servers.push(admin);
      const port = await listen(admin, config.admin.host, config.admin.port);
      adminUrl = `http://${config.admin.host === "0.0.0.0" ? "127.0.0.1" : config.admin.host}:${port}`;
    }
    return {
      listeners,
      adminUrl,
      logs: logger.lines,
      accessLog,
      metrics: () => metrics.snapshot(),
      wasmTime: () => {
        const total = new Map<string, { calls: number; ns: bigint }>();
        // Guest time per export excludes the host functions it called; their total is reported as HOST_FUNCTIONS.
        for (const vm of vms) {
          for (const [name, t] of vm.timings) {
            const sum = total.get(name) ?? { calls: 0, ns: 0n };
            total.set(name, { calls: sum.calls + t.calls, ns: sum.ns + t.ns });
          }
        }
        return total;
      },
      wasmMemoryBytes: () => vms.reduce((sum, vm) => sum + vm.memoryBytes, 0),
      timingOverhead,
      close,
    };
  } catch (error) {
    await close();
    // Envoy logs why it refused a plugin; keep those lines reachable for callers that start it programmatically.
    if (error instanceof Error) Object.assign(error, { logs: logger.lines });
    throw error;
  }
}

function serveAdmin(req: http.IncomingMessage, res: http.ServerResponse, metrics: MetricStore): void {
  const path = (req.url ?? "/").replace(/\?.*$/, "");
  if (req.method === "GET" && path === "/ready") {
    res.writeHead(200, { "content-type": "text/plain" }).end("LIVE\n");
  } else if (req.method === "GET" && path === "/stats") {
    res.writeHead(200, { "content-type": "text/plain; charset=UTF-8" }).end(metrics.statsText());
  } else {
    res.writeHead(404, { "content-type": "text/plain" }).end("invalid path\n");
  }
}
