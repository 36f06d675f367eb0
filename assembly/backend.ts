// What a client request and the two ways of reaching its backend in the Higress-compatible mode (a kept session,
// sessions.ts; a legacy SSE stream, legacy.ts) say to each other: the session or stream hands over the backend's
// answer, or a Failure that says why there is none.
import { ServerConfig } from "./config";
import { Message } from "./jsonrpc";
import { BackendSession } from "./sessions";
import { BackendReply, Handler } from "./upstream";

/** Why a client request could not be served by the backend. */
export class Failure {
  constructor(
    /** HTTP status for the client: 200 (JSON-RPC error), or the backend's 401/403. */
    public httpStatus: i32,
    public message: string,
    public wwwAuthenticate: string = "",
    /** A JSON-RPC error from the backend, passed through verbatim. */
    public error: Message | null = null,
  ) {}

  /** From an unusable reply: 401/403 keep their status (and challenge) so clients can authenticate. */
  static fromReply(server: ServerConfig, reply: BackendReply, problem: string): Failure {
    const auth = reply.status == 401 || reply.status == 403;
    return new Failure(auth ? reply.status : 200, describe(server, problem), auth ? reply.wwwAuthenticate : "");
  }
}

export function describe(server: ServerConfig, problem: string): string {
  return 'MCP server "' + server.name + '" ' + problem;
}

/** A client request waiting on its backend. */
export class Waiter extends Handler {
  /** False once answered or abandoned: sessions and streams then skip it. */
  waiting(): bool {
    return false;
  }
  /** A kept session is ready for the request. */
  onSession(_session: BackendSession): void {}
  onSessionFailed(_failure: Failure): void {}
  /** The backend answered initialize (a legacy stream's handshake): `m` is its response. */
  initialized(_m: Message): void {}
  /** The backend's JSON-RPC response to the request (legacy SSE backends deliver it off their stream). */
  answered(_m: Message): void {}
  /** Called on every tick; the waiter ends itself when its deadline passed. */
  tick(_now: i64): void {}
}
