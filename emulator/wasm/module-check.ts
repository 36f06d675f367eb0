// Envoy refuses a module at load when it imports anything cpp-host does not register for its ABI, or with another
// signature. Node would accept any JS function for any import, so the emulator reads the import section itself.
import { ENVOY_IMPORTS, ABI_MARKERS } from "./abi.ts";

const VALUE_TYPES: Record<number, string> = { 0x7f: "i", 0x7e: "I", 0x7d: "f", 0x7c: "F" };

class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}
  byte(): number { return this.bytes[this.offset++]; }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  }
  name(): string {
    const length = this.u32();
    const text = Buffer.from(this.bytes.subarray(this.offset, this.offset + length)).toString("utf8");
    this.offset += length;
    return text;
  }
}

interface FunctionImport { module: string; name: string; signature: string }

function readImports(bytes: Uint8Array): FunctionImport[] {
  const reader = new Reader(bytes);
  reader.offset = 8; // magic + version
  const types: string[] = [];
  const imports: FunctionImport[] = [];
  while (reader.offset < bytes.length) {
    const id = reader.byte();
    const size = reader.u32();
    const end = reader.offset + size;
    if (id === 1) {
      const count = reader.u32();
      for (let t = 0; t < count; t++) {
        reader.byte(); // 0x60 func
        const params = Array.from({ length: reader.u32() }, () => VALUE_TYPES[reader.byte()] ?? "?").join("");
        const results = Array.from({ length: reader.u32() }, () => VALUE_TYPES[reader.byte()] ?? "?").join("");
        types.push(`${params}:${results}`);
      }
    } else if (id === 2) {
      const count = reader.u32();
      for (let n = 0; n < count; n++) {
        const module = reader.name();
        const name = reader.name();
        const kind = reader.byte();
        if (kind === 0) imports.push({ module, name, signature: types[reader.u32()] });
        else skipImportDescriptor(reader, kind);
      }
      return imports;
    }
    reader.offset = end;
  }
  return imports;
}

function skipImportDescriptor(reader: Reader, kind: number): void {
  if (kind === 1) { reader.byte(); limits(reader); } // table
  else if (kind === 2) limits(reader); // memory
  else if (kind === 3) { reader.byte(); reader.byte(); } // global
  else reader.u32(); // tag
}

function limits(reader: Reader): void {
  const flags = reader.byte();
  reader.u32();
  if (flags & 1) reader.u32();
}

/** Throws with Envoy-like wording if the module would fail to load in Envoy. */
export function checkModule(bytes: Uint8Array, module: WebAssembly.Module): void {
  for (const imp of readImports(bytes)) {
    const key = `${imp.module}.${imp.name}`;
    const expected = ENVOY_IMPORTS[key];
    if (expected === undefined) throw new Error(`Failed to load Wasm module due to a missing import: ${key}`);
    if (expected !== imp.signature) {
      throw new Error(`Failed to load Wasm module due to an import type mismatch: ${key} is (${imp.signature}), the host provides (${expected})`);
    }
  }
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  if (!exports.has("memory")) throw new Error("Wasm module has no exported memory");
  if (!exports.has("malloc") && !exports.has("proxy_on_memory_allocate")) throw new Error("Wasm module is missing malloc/proxy_on_memory_allocate");
  if (!ABI_MARKERS.some((marker) => exports.has(marker))) {
    throw new Error("Wasm module has no supported ABI version marker (the emulator supports proxy-wasm ABI 0.2.0 and 0.2.1)");
  }
}
