// Clusters: endpoint selection (round robin), DNS for STRICT_DNS/LOGICAL_DNS, and HTTP/1.1 requests with Envoy's
// connect timeout and failure wording.
import http from "node:http";
import { lookup } from "node:dns/promises";
import type { ClusterConfig, SocketAddress } from "./config.ts";

export type UpstreamFailure = "connect_failure" | "connect_timeout" | "reset";

// Envoy's body for a local reply when the upstream could not be reached or reset before headers.
export function connectFailureBody(reason: UpstreamFailure): string {
  if (reason === "connect_timeout") return "upstream connect error or disconnect/reset before headers. reset reason: connection timeout";
  if (reason === "reset") return "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
  return "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused";
}

export interface UpstreamRequestOptions {
  method: string;
  path: string;
  /** Flat [k, v, ...] list; must include host. */
  headers: string[];
  onResponse: (response: http.IncomingMessage) => void;
  onFailure: (reason: UpstreamFailure) => void;
}

export class Cluster {
  private next = 0;
  private readonly agent = new http.Agent({ keepAlive: true });

  constructor(readonly config: ClusterConfig) {}

  get hasEndpoints(): boolean {
    return this.config.endpoints.length > 0;
  }

  private async pickEndpoint(): Promise<SocketAddress> {
    const endpoint = this.config.endpoints[this.next++ % this.config.endpoints.length];
    if (this.config.type === "STATIC") return endpoint;
    const { address } = await lookup(endpoint.host, { family: 4 });
    return { host: address, port: endpoint.port };
  }

  /** Starts an upstream request; returns it once an endpoint is picked (write the body to it, then end it). */
  async request(options: UpstreamRequestOptions): Promise<http.ClientRequest> {
    const endpoint = await this.pickEndpoint();
    const request = http.request({
      host: endpoint.host,
      port: endpoint.port,
      method: options.method,
      path: options.path,
      headers: options.headers,
      agent: this.agent,
      setHost: false,
    });
    let responded = false;
    let failed = false;
    const fail = (reason: UpstreamFailure) => {
      if (responded || failed) return;
      failed = true;
      options.onFailure(reason);
    };
    const connectTimer = setTimeout(() => {
      fail("connect_timeout");
      request.destroy();
    }, this.config.connectTimeoutMs);
    request.on("socket", (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once("connect", () => clearTimeout(connectTimer));
    });
    request.on("response", (response) => {
      responded = true;
      clearTimeout(connectTimer);
      options.onResponse(response);
    });
    request.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      fail(error.code === "ECONNREFUSED" || error.code === "EHOSTUNREACH" ? "connect_failure" : "reset");
    });
    request.on("close", () => clearTimeout(connectTimer));
    return request;
  }

  close(): void {
    this.agent.destroy();
  }
}
