// A header map read once. Each host call costs a trip across the wasm boundary plus a buffer
// the host allocates in the module, so instead of one `get_header_map_value` per header the filter takes the whole
// map with one `get_header_map_pairs` and looks names up by comparing bytes; only the values asked for become
// strings. Removals go to the host and are mirrored here, so a later read never sees a removed credential.
import * as abi from "@solo-io/proxy-runtime/assembly/imports";
import { HeaderMapTypeValues, WasmResultValues } from "@solo-io/proxy-runtime/assembly";
import { bytesEqual, containsAsciiCI } from "./bytes";

/** The host writes the returned buffer's address and size here. */
const RETURNED = memory.data(8);
/** Per header: name offset, name length, value offset, value length (in the flat buffer). */
const FIELDS = 4;

export class HeaderSnapshot {
  private type: HeaderMapTypeValues;
  private flat: ArrayBuffer;
  private entries: StaticArray<i32>;
  private count: i32 = 0;

  constructor(type: HeaderMapTypeValues, flat: ArrayBuffer) {
    this.type = type;
    this.flat = flat;
    this.entries = new StaticArray<i32>(0);
    this.index();
  }

  /** The current `type` map (the constructor takes a flat map directly); empty when the host has none. */
  static read(type: HeaderMapTypeValues): HeaderSnapshot {
    store<usize>(RETURNED, 0);
    store<usize>(RETURNED, 0, 4);
    const result = abi.proxy_get_header_map_pairs(type, RETURNED, RETURNED + 4);
    const ptr = load<usize>(RETURNED);
    if (result != WasmResultValues.Ok || ptr == 0) return new HeaderSnapshot(type, new ArrayBuffer(0));
    // The host's malloc pinned the block; from here the reference below keeps it alive.
    const flat = changetype<ArrayBuffer>(ptr);
    __unpin(ptr);
    return new HeaderSnapshot(type, flat);
  }

  /** The first value of `name` (any case: the map's names are lowercase), or "" when absent or removed. */
  get(name: string): string {
    const k = this.find(name);
    if (k < 0) return "";
    const base = changetype<usize>(this.flat);
    return String.UTF8.decodeUnsafe(
      base + <usize>unchecked(this.entries[k + 2]),
      <usize>unchecked(this.entries[k + 3]),
    );
  }

  has(name: string): bool {
    return this.find(name) >= 0;
  }

  /** The first value of `name` equals `literal` byte for byte (no string is made). */
  valueIs(name: string, literal: string): bool {
    const k = this.find(name);
    if (k < 0) return false;
    const start = unchecked(this.entries[k + 2]);
    return bytesEqual(changetype<usize>(this.flat), start, start + unchecked(this.entries[k + 3]), literal);
  }

  /** The first value of `name` contains the lowercase ASCII `needle`, in any case. */
  valueContainsCI(name: string, needle: string): bool {
    const k = this.find(name);
    if (k < 0) return false;
    return containsAsciiCI(
      changetype<usize>(this.flat) + <usize>unchecked(this.entries[k + 2]),
      unchecked(this.entries[k + 3]),
      needle,
    );
  }

  /**
   * The first value of `name` as a decimal number: -1 when absent or not all digits, i64.MAX_VALUE when too long
   * to fit (Envoy's codec rejects such content-lengths before filters see them; this keeps the filter safe anyway).
   */
  decimal(name: string): i64 {
    const k = this.find(name);
    if (k < 0) return -1;
    const ptr = changetype<usize>(this.flat) + <usize>unchecked(this.entries[k + 2]);
    const n = unchecked(this.entries[k + 3]);
    if (n == 0) return -1;
    if (n > 18) return i64.MAX_VALUE;
    let v: i64 = 0;
    for (let i = 0; i < n; i++) {
      const d = <u32>load<u8>(ptr + <usize>i) - 0x30;
      if (d > 9) return -1;
      v = v * 10 + <i64>d;
    }
    return v;
  }

  /** Removes every `name` header on the host (only while that map is writable) and here. */
  remove(name: string): void {
    if (!this.has(name)) return;
    const key = String.UTF8.encode(name);
    abi.proxy_remove_header_map_value(this.type, changetype<usize>(key), key.byteLength);
    let k = this.find(name);
    while (k >= 0) {
      unchecked((this.entries[k + 1] = -1));
      k = this.find(name);
    }
  }

  /** The names of the live entries that start with the lowercase `prefix` (each name once). */
  namesStartingWith(prefix: string): string[] {
    const out: string[] = [];
    const base = changetype<usize>(this.flat);
    for (let k = 0; k < this.count * FIELDS; k += FIELDS) {
      const length = unchecked(this.entries[k + 1]);
      if (length < prefix.length) continue;
      const name = String.UTF8.decodeUnsafe(base + <usize>unchecked(this.entries[k]), <usize>length);
      if (name.startsWith(prefix) && !out.includes(name)) out.push(name);
    }
    return out;
  }

  /** Offset of the first live entry named `name` in `entries`, or -1. */
  private find(name: string): i32 {
    const base = changetype<usize>(this.flat);
    for (let k = 0; k < this.count * FIELDS; k += FIELDS) {
      const start = unchecked(this.entries[k]);
      const length = unchecked(this.entries[k + 1]);
      if (length == name.length && lowercaseEquals(base + <usize>start, name)) return k;
    }
    return -1;
  }

  /**
   * Reads the flat map: u32 count, then count (name length, value length) pairs, then each name and value followed
   * by a NUL. Sizes are checked against the buffer; a map that does not add up is treated as empty.
   */
  private index(): void {
    const size = this.flat.byteLength;
    if (size < 4) return;
    const base = changetype<usize>(this.flat);
    const n = <i32>load<u32>(base);
    if (n <= 0 || <i64>n * 8 + 4 > <i64>size) return;
    const entries = new StaticArray<i32>(n * FIELDS);
    let at: i64 = 4 + <i64>n * 8;
    for (let i = 0; i < n; i++) {
      const nameLength = <i64>load<u32>(base + 4 + <usize>i * 8);
      const valueLength = <i64>load<u32>(base + 8 + <usize>i * 8);
      if (at + nameLength + valueLength + 2 > <i64>size) return;
      unchecked((entries[i * FIELDS] = <i32>at));
      unchecked((entries[i * FIELDS + 1] = <i32>nameLength));
      at += nameLength + 1;
      unchecked((entries[i * FIELDS + 2] = <i32>at));
      unchecked((entries[i * FIELDS + 3] = <i32>valueLength));
      at += valueLength + 1;
    }
    this.entries = entries;
    this.count = n;
  }
}

/** The lowercase bytes at `ptr` equal `name` compared ASCII-case-insensitively (lengths already equal). */
function lowercaseEquals(ptr: usize, name: string): bool {
  for (let i = 0; i < name.length; i++) {
    let c = <u32>name.charCodeAt(i);
    if (c - 0x41 < 26) c |= 0x20;
    if (<u32>load<u8>(ptr + <usize>i) != c) return false;
  }
  return true;
}

/** Request headers Envoy adds or relies on before any filter runs (its route lookup needs x-forwarded-proto). */
const ENVOY_REQUEST_HEADERS = ["x-forwarded-proto", "x-forwarded-for", "x-request-id"];

/** A header Envoy itself added or relies on: the filter never removes one. */
export function isEnvoyRequestHeader(name: string): bool {
  return ENVOY_REQUEST_HEADERS.includes(name) || name.startsWith("x-envoy-");
}
