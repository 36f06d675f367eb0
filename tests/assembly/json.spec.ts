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
    const good = ['{}', '[]', ' {"a" : [1, -2.5e+3, 0, true, false, null, "x\\u00e9\\n"]} ', '"s"', '0', '-0.1E2',
      '{"a":{"b":{"c":[[],[{}]]}}}', '"\\ud83d\\ude00"'];
    for (let i = 0; i < good.length; i++) expect(isDoc(good[i])).toBe(true, good[i]);
  });

  it("rejects malformed documents", () => {
    const bad = ['', ' ', '{', '}', '{"a"}', '{"a":}', '{"a":1,}', '[1,]', '[1 2]', '01', '1.', '.5', '-', '1e',
      '"abc', '"\\x"', '"\\u12g4"', '"a\nb"', 'tru', 'nul', '{"a":1}x', '{a:1}', "{'a':1}", '[', '{"a":1 "b":2}',
      '{"a" 1}', '+1', 'NaN', '{"a":[}', '[{]'];
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
    expect(s.decodeSpan(v)).toBe("a\"b\\c/d\te\u00e9\ud83d\ude00");
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
    expect(parse('').shape).toBe(Shape.Malformed);
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
    expect(text(errorReply(ReplyId.of(n), -32601, "Method not found: \"x\""))).toBe(
      '{"jsonrpc":"2.0","id":1.50,"error":{"code":-32601,"message":"Method not found: \\"x\\""}}');
    expect(text(errorReply(ReplyId.none(), -32700, "Parse error"))).toBe(
      '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
  });
});
