import { Elements, Kind, MAX_DEPTH, Members, Scanner, Span } from "../../assembly/json";
import { Message, parseMessage, ReplyId, Shape, errorReply, resultReply } from "../../assembly/jsonrpc";

function scan(text: string): Scanner {
  return Scanner.of(String.UTF8.encode(text));
}

function isDoc(text: string): bool {
  return scan(text).isDocument(new Span());
}

function parse(text: string): Message {
  return parseMessage(scan(text));
}

function text(buf: ArrayBuffer): string {
  return String.UTF8.decode(buf);
}

describe("JSON validation", () => {
  it("accepts valid documents", () => {
    const good = [
      "{}",
      "[]",
      ' {"a" : [1, -2.5e+3, 0, true, false, null, "x\\u00e9\\n"]} ',
      '"s"',
      "0",
      "-0.1E2",
      '{"a":{"b":{"c":[[],[{}]]}}}',
      '"\\ud83d\\ude00"',
    ];
    for (let i = 0; i < good.length; i++) expect(isDoc(good[i])).toBe(true, good[i]);
  });

  it("rejects malformed documents", () => {
    const bad = [
      "",
      " ",
      "{",
      "}",
      '{"a"}',
      '{"a":}',
      '{"a":1,}',
      "[1,]",
      "[1 2]",
      "01",
      "1.",
      ".5",
      "-",
      "1e",
      '"abc',
      '"\\x"',
      '"\\u12g4"',
      '"a\nb"',
      "tru",
      "nul",
      '{"a":1}x',
      "{a:1}",
      "{'a':1}",
      "[",
      '{"a":1 "b":2}',
      '{"a" 1}',
      "+1",
      "NaN",
      '{"a":[}',
      "[{]",
    ];
    for (let i = 0; i < bad.length; i++) expect(isDoc(bad[i])).toBe(false, bad[i]);
  });

  it("limits nesting without recursion", () => {
    expect(isDoc("[".repeat(MAX_DEPTH) + "]".repeat(MAX_DEPTH))).toBe(true);
    expect(isDoc("[".repeat(MAX_DEPTH + 1) + "]".repeat(MAX_DEPTH + 1))).toBe(false);
    expect(isDoc("[".repeat(100000))).toBe(false);
  });

  it("decodes escapes, surrogate pairs and keys", () => {
    const s = scan('{"k\\u0065y":"a\\"b\\\\c\\/d\\te\\u00e9\\ud83d\\ude00"}');
    const doc = new Span();
    expect(s.isDocument(doc)).toBe(true);
    const v = new Span();
    expect(s.member(doc, "key", v)).toBe(true);
    expect(s.decodeSpan(v)).toBe('a"b\\c/d\te\u00e9\ud83d\ude00');
  });

  it("iterates members and elements as spans", () => {
    const s = scan('{"a": [1, {"x":2}, "y"], "b": null}');
    const doc = new Span();
    s.isDocument(doc);
    const it = new Members(s, doc.start);
    let n = 0;
    while (it.next()) n++;
    expect(n).toBe(2);
    expect(it.ok).toBe(true);
    const arr = new Span();
    s.member(doc, "a", arr);
    const els = new Elements(s, arr.start);
    const kinds: Kind[] = [];
    while (els.next()) kinds.push(els.value.kind);
    expect(kinds.length).toBe(3);
    expect(kinds[1]).toBe(Kind.Object);
  });
});

describe("JSON-RPC messages", () => {
  it("classifies requests, notifications and responses", () => {
    expect(parse('{"jsonrpc":"2.0","id":1,"method":"ping"}').shape).toBe(Shape.Request);
    expect(parse('{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}').shape).toBe(Shape.Request);
    expect(parse('{"jsonrpc":"2.0","method":"notifications/initialized"}').shape).toBe(Shape.Notification);
    expect(parse('{"jsonrpc":"2.0","id":3,"result":{}}').shape).toBe(Shape.Response);
    expect(parse('{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}}').shape).toBe(Shape.Response);
  });

  it("tells malformed JSON from invalid JSON-RPC", () => {
    expect(parse('{"jsonrpc":"2.0","id":1,"method":"ping"').shape).toBe(Shape.Malformed);
    expect(parse("").shape).toBe(Shape.Malformed);
    expect(parse('[{"jsonrpc":"2.0","id":1,"method":"ping"}]').shape).toBe(Shape.Invalid);
    expect(parse('{"id":1,"method":"ping"}').shape).toBe(Shape.Invalid);
    expect(parse('{"jsonrpc":"1.0","id":1,"method":"ping"}').shape).toBe(Shape.Invalid);
    expect(parse('{"jsonrpc":"2.0","id":null,"method":"ping"}').shape).toBe(Shape.Invalid);
    expect(parse('{"jsonrpc":"2.0","id":{},"method":"ping"}').shape).toBe(Shape.Invalid);
    expect(parse('{"jsonrpc":"2.0","id":1,"method":7}').shape).toBe(Shape.Invalid);
    expect(parse('{"jsonrpc":"2.0","id":1,"method":"x","params":3}').shape).toBe(Shape.Invalid);
    expect(parse('{"jsonrpc":"2.0","id":1,"result":{},"error":{}}').shape).toBe(Shape.Invalid);
    expect(parse('"just a string"').shape).toBe(Shape.Invalid);
  });

  it("walks an indexed message exactly as a fresh scan does (large containers are jumped over)", () => {
    // Tool schemas well over the index threshold, nested, with strings holding brackets and escapes.
    const schema =
      '{"type":"object","properties":{"q":{"type":"string","description":"a ] } [ { \\" quote"},' +
      '"n":{"type":"array","items":{"type":"number"}},"deep":{"a":{"b":{"c":[1,2,3,{"d":"' +
      "x".repeat(80) +
      '"}]}}}}}';
    let tools = "";
    for (let i = 0; i < 40; i++)
      tools +=
        (i > 0 ? "," : "") + '{"inputSchema":' + schema + ',"name":"t' + i.toString() + '","x":[' + schema + "]}";
    const text = '{"jsonrpc":"2.0","id":1,"result":{"tools":[' + tools + '],"nextCursor":"c"}}';
    const indexed = parse(text);
    expect(indexed.shape).toBe(Shape.Response);
    const fresh = scan(text);
    const doc = new Span();
    expect(fresh.isDocument(doc)).toBe(true);
    const freshResult = new Span();
    fresh.member(doc, "result", freshResult);
    expect(indexed.result.end).toBe(freshResult.end);
    const a = new Span(),
      b = new Span();
    expect(indexed.s.member(indexed.result, "tools", a)).toBe(true);
    expect(fresh.member(freshResult, "tools", b)).toBe(true);
    expect(a.end).toBe(b.end);
    const ia = new Elements(indexed.s, a.start),
      ib = new Elements(fresh, b.start);
    const na = new Span(),
      nb = new Span();
    let n = 0;
    while (ia.next()) {
      expect(ib.next()).toBe(true);
      expect(ia.value.start).toBe(ib.value.start);
      expect(ia.value.end).toBe(ib.value.end);
      expect(indexed.s.member(ia.value, "name", na)).toBe(true);
      fresh.member(ib.value, "name", nb);
      expect(indexed.s.decodeSpan(na)).toBe("t" + n.toString());
      expect(na.start).toBe(nb.start);
      n++;
    }
    expect(ib.next()).toBe(false);
    expect(n).toBe(40);
  });

  it("refuses a large container that is malformed deep inside, even after an index was started", () => {
    const big = '{"k":"' + "y".repeat(100) + '","bad":[1,2,}';
    expect(parse('{"jsonrpc":"2.0","id":1,"result":' + big + "}").shape).toBe(Shape.Malformed);
    expect(parse('{"jsonrpc":"2.0","id":1,"result":{"a":"' + "z".repeat(100) + '"}} x').shape).toBe(Shape.Malformed);
  });

  it("reads members with escaped keys and the last duplicate", () => {
    const m = parse('{"jsonrpc":"2.0","\\u006dethod":"a","method":"tools/call","id":7}');
    expect(m.shape).toBe(Shape.Request);
    expect(m.methodName()).toBe("tools/call");
    expect(m.idIs(7)).toBe(true);
    expect(m.idIs(70)).toBe(false);
  });

  it("echoes the client's id bytes exactly", () => {
    const m = parse('{"jsonrpc":"2.0","id": "x\\"1" ,"method":"ping"}');
    const body = resultReply(ReplyId.of(m), Uint8Array.wrap(String.UTF8.encode('{"a":1}')), 0, 7);
    expect(text(body)).toBe('{"jsonrpc":"2.0","id":"x\\"1","result":{"a":1}}');
    const n = parse('{"jsonrpc":"2.0","id":1.50,"method":"ping"}');
    expect(text(errorReply(ReplyId.of(n), -32601, 'Method not found: "x"'))).toBe(
      '{"jsonrpc":"2.0","id":1.50,"error":{"code":-32601,"message":"Method not found: \\"x\\""}}',
    );
    expect(text(errorReply(ReplyId.none(), -32700, "Parse error"))).toBe(
      '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}',
    );
  });
});
