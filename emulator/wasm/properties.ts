// Property values in Envoy's wire encoding: strings as raw bytes, integers as 8-byte little-endian, booleans as one
// byte, maps as proxy-wasm pairs.
import { serializePairs, type HeaderList } from "../headers.ts";

export type PropertyValue = string | number | bigint | boolean | Buffer | HeaderList | undefined;

export function encodeProperty(value: unknown): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (typeof value === "boolean") return Buffer.from([value ? 1 : 0]);
  if (typeof value === "number" || typeof value === "bigint") {
    const out = Buffer.alloc(8);
    out.writeBigInt64LE(BigInt(value));
    return out;
  }
  if (Array.isArray(value)) return serializePairs(value as HeaderList);
  return undefined;
}
