// The module's exports: the SDK's, with the ones that run filter code wrapped so that garbage is collected between
// calls, never during one (collector.ts), and each call's clock reading and effective context are tracked
// (host.ts). Any filter built on the SDK with this runtime exports these.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import * as sdk from "@solo-io/proxy-runtime/assembly/exports";
import { malloc as sdkMalloc } from "@solo-io/proxy-runtime/assembly/malloc";
import { enter, leave, noteHostAllocation, noteStreamEnded } from "./collector";
import { beginCall, endCall } from "./host";

/** Brackets an export call: the collector's depth, the call's clock and effective context (host.ts). */
function opened(contextId: u32): void {
  enter();
  beginCall(contextId);
}

function closed(collectAll: bool = false): void {
  endCall();
  leave(collectAll);
}

/** The host's allocations: request and reply bodies, header maps. Never collects (the host calls it mid-call). */
export function malloc(size: i32): usize {
  noteHostAllocation(<usize>max(size, 0));
  return sdkMalloc(size);
}

export function proxy_on_request_headers(context_id: u32, headers: u32, end_of_stream: u32): i32 {
  opened(context_id);
  const status = sdk.proxy_on_request_headers(context_id, headers, end_of_stream);
  closed();
  return status;
}

export function proxy_on_request_body(context_id: u32, size: u32, end_of_stream: u32): i32 {
  opened(context_id);
  const status = sdk.proxy_on_request_body(context_id, size, end_of_stream);
  closed();
  return status;
}

export function proxy_on_response_headers(context_id: u32, headers: u32, end_of_stream: u32): i32 {
  opened(context_id);
  const status = sdk.proxy_on_response_headers(context_id, headers, end_of_stream);
  closed();
  return status;
}

export function proxy_on_response_body(context_id: u32, size: u32, end_of_stream: u32): i32 {
  opened(context_id);
  const status = sdk.proxy_on_response_body(context_id, size, end_of_stream);
  closed();
  return status;
}

export function proxy_on_http_call_response(
  context_id: u32,
  token: u32,
  headers: u32,
  body_size: u32,
  trailers: u32,
): void {
  opened(context_id);
  sdk.proxy_on_http_call_response(context_id, token, headers, body_size, trailers);
  closed();
}

/** Ticks collect whatever is left, so a quiet filter (or one long stream) does not sit on garbage. */
export function proxy_on_tick(root_context_id: u32): void {
  opened(root_context_id);
  sdk.proxy_on_tick(root_context_id);
  closed(true);
}

export function proxy_on_delete(context_id: u32): void {
  opened(context_id);
  sdk.proxy_on_delete(context_id);
  noteStreamEnded();
  closed();
}
