import {
  NameFilter,
  Subject,
  effectiveToolFilter,
  filteredList,
  listShape,
  splitNames,
  targetOf,
} from "../../assembly/policy";
import { Message, parseMessage } from "../../assembly/jsonrpc";
import { Scanner } from "../../assembly/json";

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

describe("allowResources and allowPrompts", () => {
  it("exact entries, and prefixes for entries ending in *", () => {
    const f = NameFilter.of(["test://public", "file:///data/*"], true);
    expect(f.allows("test://public")).toBe(true);
    expect(f.allows("test://public/more")).toBe(false);
    expect(f.allows("file:///data/a.txt")).toBe(true);
    expect(f.allows("file:///etc/passwd")).toBe(false);
  });

  it("tools have no wildcards: a * is part of the name (Higress)", () => {
    expect(NameFilter.of(["ech*"], false).allows("echo")).toBe(false);
  });
});

function message(json: string): Message {
  return parseMessage(Scanner.of(String.UTF8.encode(json)));
}

describe("what a request names", () => {
  it("tools/call and prompts/get by name, resources/read and subscriptions by uri, completion by its ref", () => {
    const call = targetOf(
      "tools/call",
      message('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}'),
    )!;
    expect(call.subject).toBe(Subject.Tool);
    expect(call.name).toBe("echo");
    expect(
      targetOf(
        "resources/read",
        message('{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://x"}}'),
      )!.name,
    ).toBe("test://x");
    expect(
      targetOf(
        "resources/subscribe",
        message('{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"test://y"}}'),
      )!.subject,
    ).toBe(Subject.Resource);
    const prompt = targetOf(
      "completion/complete",
      message(
        '{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"a","value":""}}}',
      ),
    )!;
    expect(prompt.subject).toBe(Subject.Prompt);
    expect(prompt.name).toBe("greet");
    const resource = targetOf(
      "completion/complete",
      message(
        '{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"test://t/{id}"}}}',
      ),
    )!;
    expect(resource.subject).toBe(Subject.Resource);
  });

  it("a method that must name something and does not is invalid; others name nothing", () => {
    expect(targetOf("tools/call", message('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}'))).toBeNull();
    expect(targetOf("prompts/get", message('{"jsonrpc":"2.0","id":1,"method":"prompts/get"}'))).toBeNull();
    expect(targetOf("tools/list", message('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'))!.subject).toBe(
      Subject.None,
    );
  });
});

describe("list filtering", () => {
  it("keeps only the allowed entries of a resources/list, every other byte as sent", () => {
    const m = message(
      '{"jsonrpc":"2.0","id":"a","result":{"resources":[{"uri":"test://public","name":"p"},{"uri":"test://private","name":"q"}],"nextCursor":"c2"}}',
    );
    const out = String.UTF8.decode(
      filteredList(m.s, m.result, listShape("resources/list")!, NameFilter.of(["test://public"], true)),
    );
    expect(out).toBe('{"resources":[{"uri":"test://public","name":"p"}],"nextCursor":"c2"}');
  });

  it("filters templates by uriTemplate and prompts by name", () => {
    expect(listShape("resources/templates/list")!.key).toBe("uriTemplate");
    expect(listShape("prompts/list")!.array).toBe("prompts");
    expect(listShape("tools/call")).toBeNull();
  });
});
