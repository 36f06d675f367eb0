// Exercises the filter's runtime (assembly/runtime.ts) on one request per seed (header x-seed): objects of every
// size class and over it, arrays that grow in place and move, a static array that grows onto the heap, a pinned
// buffer reachable from nothing else; then a collection, fresh garbage written over whatever was freed, and every
// survivor checked byte for byte. Replies 200 "ok ..." or 500 naming the first damaged object.
export * from "../../assembly/exports";
import {
  Context, FilterHeadersStatusValues, GrpcStatusValues, RootContext, registerRootContext, send_local_response,
  stream_context,
} from "@solo-io/proxy-runtime/assembly";

/** A static array: growing it moves its buffer to the heap, reachable only through static data. */
const STATIC_LIST: string[] = ["static"];
let kept: string[] = [];
let keptBytes: Uint8Array[] = [];
/** Grows across requests far past the free lists' sizes: its buffer is reallocated by TLSF, in place or moved. */
let history: i32[] = [];
let pinned: usize = 0;
let rng: u32 = 1;

function next(limit: i32): i32 {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return <i32>(rng % <u32>limit);
}

/** The text kept object `tag` must hold: its tag repeated up to `length` characters. */
function text(tag: i32, length: i32): string {
  return tag.toString().padEnd(length, String.fromCharCode(0x61 + tag % 26));
}

function fill(tag: i32, size: i32): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = <u8>(tag + i);
  return bytes;
}

/** Allocates, keeps some of it in globals (replacing earlier survivors), drops the rest. */
function allocate(seed: u32): void {
  rng = seed;
  const grown: string[] = [];
  for (let i = 0; i < 400; i++) {
    const tag = <i32>seed * 1000 + i;
    const length = next(10) == 0 ? 1000 + next(3000) : next(200);
    const value = text(tag, length);
    // Interleaved with large allocations, so that growing the buffer in place is often impossible.
    for (let k = 0; k < 3; k++) history.push(history.length * 7 + 3);
    grown.push(value);
    if (next(4) == 0) {
      if (kept.length < 300) kept.push(value);
      else kept[next(300)] = value;
    }
    if (next(50) == 0) keptBytes.push(fill(tag, 2000 + next(8000)));
  }
  if (keptBytes.length > 20) keptBytes = keptBytes.slice(keptBytes.length - 20);
  if (history.length > 40000) history = [];
  STATIC_LIST.push(text(<i32>seed, 50));
  if (STATIC_LIST.length > 40) STATIC_LIST.splice(1, 1);
  pinned = __pin(changetype<usize>(fill(<i32>seed, 3000)));
}

/**
 * Garbage of the same shapes, so that freed blocks are handed out again before the check; over a megabyte of it,
 * so that each collection also hands blocks from the free lists back to TLSF.
 */
function overwrite(seed: u32): void {
  rng = seed ^ 0x5bd1e995;
  for (let i = 0; i < 2000; i++) fill(0xee, next(10) == 0 ? 1000 + next(3000) : next(200));
}

function damaged(seed: u32): string {
  for (let i = 0; i < kept.length; i++) {
    const value = kept[i];
    if (value != text(I32.parseInt(leadingDigits(value)), value.length)) return "kept string " + i.toString();
  }
  for (let i = 0; i < keptBytes.length; i++) {
    const bytes = keptBytes[i];
    const tag = <i32>bytes[0];
    for (let j = 0; j < bytes.length; j++) if (bytes[j] != <u8>(tag + j)) return "kept buffer " + i.toString();
  }
  for (let k = 0; k < history.length; k++) if (history[k] != k * 7 + 3) return "history entry " + k.toString();
  if (STATIC_LIST[0] != "static") return "static list head";
  if (STATIC_LIST[STATIC_LIST.length - 1] != text(<i32>seed, 50)) return "static list tail";
  const pin = changetype<Uint8Array>(pinned);
  for (let j = 0; j < pin.length; j++) if (pin[j] != <u8>(<i32>seed + j)) return "pinned buffer";
  return "";
}

function leadingDigits(value: string): string {
  let end = 0;
  while (end < value.length && value.charCodeAt(end) >= 0x30 && value.charCodeAt(end) <= 0x39) end++;
  return value.substring(0, end);
}

function reply(status: u32, body: string): void {
  send_local_response(status, "heap", String.UTF8.encode(body), [], GrpcStatusValues.InvalidCode);
}

class Stream extends Context {
  onRequestHeaders(_n: u32, _end: bool): FilterHeadersStatusValues {
    const seed = <u32>parseInt(stream_context.headers.request.get("x-seed"));
    allocate(seed);
    __collect();
    overwrite(seed);
    const damage = damaged(seed);
    __unpin(pinned);
    if (damage.length > 0) reply(500, "damaged: " + damage);
    else reply(200, "ok kept=" + kept.length.toString() + " buffers=" + keptBytes.length.toString() + " static=" + STATIC_LIST.length.toString());
    return FilterHeadersStatusValues.StopIteration;
  }
}

class Root extends RootContext {
  createContext(id: u32): Context { return new Stream(id, this); }
}
registerRootContext((id: u32): RootContext => new Root(id), "heap");
