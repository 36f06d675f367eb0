import { NameFilter, effectiveToolFilter, splitNames } from "../../assembly/policy";

function set(names: string[]): NameFilter {
  return NameFilter.of(names, false);
}

const NONE = NameFilter.open();

function effectiveFilter(configured: NameFilter | null, header: string): NameFilter {
  return effectiveToolFilter(configured === null ? NONE : configured, header);
}

describe("allowTools", () => {
  it("no allowTools key and no header: everything allowed", () => {
    const f = effectiveFilter(null, "");
    expect(f.restricted).toBe(false);
    expect(f.allows("anything")).toBe(true);
  });

  it("allowTools only: exactly the configured tools", () => {
    const f = effectiveFilter(set(["a", "b"]), "");
    expect(f.allows("a")).toBe(true);
    expect(f.allows("c")).toBe(false);
  });

  it("allowTools: [] denies all", () => {
    expect(effectiveFilter(set([]), "").allows("a")).toBe(false);
    expect(effectiveFilter(set([]), "a").allows("a")).toBe(false);
  });

  it("header only: the header's tools", () => {
    const f = effectiveFilter(null, " a , b ");
    expect(f.allows("a")).toBe(true);
    expect(f.allows("b")).toBe(true);
    expect(f.allows("c")).toBe(false);
  });

  it("an empty or blank header is no restriction", () => {
    expect(effectiveFilter(null, "   ").restricted).toBe(false);
    expect(effectiveFilter(set(["a"]), " ").allows("a")).toBe(true);
  });

  it("a header of only commas denies all", () => {
    expect(effectiveFilter(null, ",").allows("a")).toBe(false);
    expect(effectiveFilter(null, " , ,").restricted).toBe(true);
    expect(effectiveFilter(set(["a"]), ",,").allows("a")).toBe(false);
  });

  it("both: the intersection, so a client can never widen the list", () => {
    const f = effectiveFilter(set(["a", "b"]), "b,c");
    expect(f.allows("a")).toBe(false);
    expect(f.allows("b")).toBe(true);
    expect(f.allows("c")).toBe(false);
  });

  it("names are exact (case-sensitive, trimmed)", () => {
    const s = splitNames(" Echo ,echo,,");
    expect(s.size).toBe(2);
    expect(effectiveFilter(null, "Echo").allows("echo")).toBe(false);
  });
});
