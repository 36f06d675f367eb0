import { HeaderMapTypeValues } from "@solo-io/proxy-runtime/assembly";
import { HeaderSnapshot } from "../../assembly/headers";

/** A header map in the ABI's flat form: u32 count, (name length, value length) pairs, then "name\0value\0" each. */
function flat(pairs: string[][]): ArrayBuffer {
  let size = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++)
    size += String.UTF8.byteLength(pairs[i][0]) + String.UTF8.byteLength(pairs[i][1]) + 2;
  const buf = new ArrayBuffer(size);
  const base = changetype<usize>(buf);
  store<u32>(base, pairs.length);
  let at = 4 + pairs.length * 8;
  for (let i = 0; i < pairs.length; i++) {
    const name = String.UTF8.encode(pairs[i][0]),
      value = String.UTF8.encode(pairs[i][1]);
    store<u32>(base + 4 + i * 8, name.byteLength);
    store<u32>(base + 8 + i * 8, value.byteLength);
    memory.copy(base + at, changetype<usize>(name), name.byteLength);
    at += name.byteLength + 1;
    memory.copy(base + at, changetype<usize>(value), value.byteLength);
    at += value.byteLength + 1;
  }
  return buf;
}

function snapshot(buf: ArrayBuffer): HeaderSnapshot {
  return new HeaderSnapshot(HeaderMapTypeValues.RequestHeaders, buf);
}

describe("header snapshot", () => {
  it("finds values by name, first of duplicates, empty values included", () => {
    const h = snapshot(
      flat([
        [":path", "/mcp?x=1"],
        ["accept", "a"],
        ["accept", "b"],
        ["x-empty", ""],
        ["é-h", "ünï"],
      ]),
    );
    expect(h.get(":path")).toBe("/mcp?x=1");
    expect(h.get("accept")).toBe("a");
    expect(h.has("x-empty")).toBe(true);
    expect(h.get("x-empty")).toBe("");
    expect(h.has("accep")).toBe(false);
    expect(h.get("missing")).toBe("");
    expect(h.get("ünï")).toBe("");
    // Configured names may be written in any case; the map's are lowercase.
    expect(h.get("Accept")).toBe("a");
    expect(h.get(":PATH")).toBe("/mcp?x=1");
  });

  it("treats a map whose sizes do not add up as empty instead of reading past it", () => {
    const good = flat([
      ["a", "1"],
      ["b", "2"],
    ]);
    const truncated = good.slice(0, good.byteLength - 3);
    expect(snapshot(truncated).has("a")).toBe(false);
    const hugeCount = good.slice(0);
    store<u32>(changetype<usize>(hugeCount), 0x7fffffff);
    expect(snapshot(hugeCount).has("a")).toBe(false);
    const hugeLength = good.slice(0);
    store<u32>(changetype<usize>(hugeLength) + 4, 0xffffffff);
    expect(snapshot(hugeLength).has("b")).toBe(false);
    expect(snapshot(new ArrayBuffer(0)).has("a")).toBe(false);
    expect(snapshot(new ArrayBuffer(3)).has("a")).toBe(false);
  });
});
