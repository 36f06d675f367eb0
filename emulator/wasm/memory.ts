// Guest memory access as cpp-host does it: bounds-checked reads and writes, and Envoy's copy-out protocol (the host
// calls the module's malloc for exactly the bytes it returns; nothing is allocated for an empty value).
import { WasmResult } from "./abi.ts";

export class GuestMemory {
  private bytes: Uint8Array;
  private view: DataView;

  constructor(private readonly memory: WebAssembly.Memory, private readonly allocate: (size: number) => number) {
    this.bytes = new Uint8Array(memory.buffer);
    this.view = new DataView(memory.buffer);
  }

  /** malloc may grow memory, which detaches the old views. */
  private refresh(): void {
    if (this.bytes.buffer !== this.memory.buffer) {
      this.bytes = new Uint8Array(this.memory.buffer);
      this.view = new DataView(this.memory.buffer);
    }
  }

  inBounds(ptr: number, length: number): boolean {
    this.refresh();
    return ptr >= 0 && length >= 0 && ptr + length <= this.bytes.length;
  }

  read(ptr: number, length: number): Buffer | undefined {
    if (!this.inBounds(ptr, length)) return undefined;
    return Buffer.from(this.bytes.subarray(ptr, ptr + length));
  }

  readString(ptr: number, length: number, encoding: BufferEncoding = "utf8"): string | undefined {
    return this.read(ptr, length)?.toString(encoding);
  }

  writeU32(ptr: number, value: number): boolean {
    if (!this.inBounds(ptr, 4)) return false;
    this.view.setUint32(ptr, value >>> 0, true);
    return true;
  }

  writeU64(ptr: number, value: bigint): boolean {
    if (!this.inBounds(ptr, 8)) return false;
    this.view.setBigUint64(ptr, value, true);
    return true;
  }

  write(ptr: number, data: Uint8Array): boolean {
    if (!this.inBounds(ptr, data.length)) return false;
    this.bytes.set(data, ptr);
    return true;
  }

  /** Copies a value out to the guest and writes its pointer and size to (ptrPtr, sizePtr). */
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): WasmResult {
    if (!this.inBounds(ptrPtr, 4) || !this.inBounds(sizePtr, 4)) return WasmResult.InvalidMemoryAccess;
    if (data.length === 0) {
      this.writeU32(ptrPtr, 0);
      this.writeU32(sizePtr, 0);
      return WasmResult.Ok;
    }
    const ptr = this.allocate(data.length) >>> 0;
    if (ptr === 0 || !this.write(ptr, data)) return WasmResult.InvalidMemoryAccess;
    if (!this.writeU32(ptrPtr, ptr) || !this.writeU32(sizePtr, data.length)) return WasmResult.InvalidMemoryAccess;
    return WasmResult.Ok;
  }
}
