// Protobuf Duration as Envoy's YAML accepts it: "15s", "0.25s", "1.000340012s", or {seconds, nanos}.

export function parseDurationMs(value: unknown, path: string): number {
  if (typeof value === "string") {
    const match = /^(-?\d+(?:\.\d{1,9})?)s$/.exec(value.trim());
    if (!match) throw new Error(`${path}: invalid duration "${value}" (expected e.g. "15s" or "0.25s")`);
    const seconds = Number(match[1]);
    if (seconds < 0) throw new Error(`${path}: duration must not be negative`);
    return seconds * 1000;
  }
  if (value !== null && typeof value === "object") {
    const { seconds = 0, nanos = 0, ...rest } = value as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) throw new Error(`${path}.${extra[0]}: unknown field of google.protobuf.Duration`);
    if (typeof seconds !== "number" && typeof seconds !== "string") throw new Error(`${path}.seconds: must be a number`);
    if (typeof nanos !== "number") throw new Error(`${path}.nanos: must be a number`);
    return Number(seconds) * 1000 + nanos / 1e6;
  }
  throw new Error(`${path}: invalid duration`);
}
