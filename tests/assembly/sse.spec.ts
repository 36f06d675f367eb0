import { SseParser } from "../../assembly/sse";

function feed(p: SseParser, text: string): void {
  p.pushBytes(Uint8Array.wrap(String.UTF8.encode(text)));
}

function parseAll(text: string): SseParser {
  const p = new SseParser();
  feed(p, text);
  return p;
}

describe("SSE parser", () => {
  it("parses an event with LF line ends", () => {
    const p = parseAll('event: message\nid: 7\ndata: {"a":1}\n\n');
    expect(p.events.length).toBe(1);
    expect(p.events[0].type).toBe("message");
    expect(p.events[0].id).toBe("7");
    expect(p.events[0].text).toBe('{"a":1}');
  });

  it("accepts CRLF and lone CR line ends", () => {
    const crlf = parseAll("data: a\r\n\r\ndata: b\r\n\r\n");
    expect(crlf.events.length).toBe(2);
    expect(crlf.events[1].text).toBe("b");
    const cr = parseAll("data: a\r\rdata: b\r\r");
    expect(cr.events.length).toBe(2);
    expect(cr.events[0].text).toBe("a");
  });

  it("joins multi-line data with LF and keeps only one leading space", () => {
    const p = parseAll("data: one\ndata:two\ndata:  three\ndata\n\n");
    expect(p.events[0].text).toBe("one\ntwo\n three\n");
  });

  it("ignores comments and unknown fields; defaults the type to message", () => {
    const p = parseAll(": keep-alive\nfoo: bar\ndata: x\n\n");
    expect(p.events.length).toBe(1);
    expect(p.events[0].type).toBe("message");
  });

  it("records retry and ids, and skips empty priming events", () => {
    const p = parseAll("id: prime-1\nretry: 1500\ndata:\n\nid: 2\nretry: x\n\ndata: real\n\n");
    // "data:" with an empty value is still data: only an event without any data line is skipped.
    expect(p.events.length).toBe(2);
    expect(p.events[0].text).toBe("");
    expect(p.retry).toBe(1500);
    const q = parseAll("id: prime\nretry: 3000\n\nevent: message\ndata: {}\n\n");
    expect(q.events.length).toBe(1);
    expect(q.events[0].id).toBe("prime");
    expect(q.retry).toBe(3000);
  });

  it("resets the event type after each dispatch, keeps the last id", () => {
    const p = parseAll("event: custom\nid: 1\ndata: a\n\ndata: b\n\n");
    expect(p.events[0].type).toBe("custom");
    expect(p.events[1].type).toBe("message");
    expect(p.events[1].id).toBe("1");
  });

  it("is incremental: any split gives the same events, a CRLF split across chunks included", () => {
    const stream = 'event: message\r\nid: 42\r\ndata: {"x":\r\ndata: 1}\r\n\r\n: c\r\ndata: tail\r\n\r\n';
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new SseParser();
      feed(p, stream.substring(0, cut));
      feed(p, stream.substring(cut));
      expect(p.events.length).toBe(2, cut.toString());
      expect(p.events[0].text).toBe('{"x":\n1}');
      expect(p.events[0].id).toBe("42");
      expect(p.events[1].text).toBe("tail");
    }
  });

  it("handles one byte at a time", () => {
    const stream = "data: a\r\n\r\ndata: b\r\rdata: c\n\n";
    const p = new SseParser();
    for (let i = 0; i < stream.length; i++) feed(p, stream.charAt(i));
    expect(p.events.length).toBe(3);
    expect(p.events[2].text).toBe("c");
  });

  it("does not dispatch an event left unterminated at the end", () => {
    const p = parseAll("data: a\n\ndata: partial\n");
    p.finish();
    expect(p.events.length).toBe(1);
  });

  it("ignores ids containing NUL", () => {
    const p = parseAll("id: a\0b\ndata: x\n\n");
    expect(p.events[0].id).toBe("");
  });

  it("borrows a whole body's single-line data and copies multi-line data", () => {
    const body = String.UTF8.encode('data: {"a":1}\n\ndata: x\ndata: y\n\ndata: tail\n');
    const p = new SseParser();
    p.pushBody(body);
    expect(p.events.length).toBe(2);
    expect(p.events[0].text).toBe('{"a":1}');
    expect(changetype<usize>(p.events[0].data.buffer)).toBe(changetype<usize>(body));
    expect(p.events[1].text).toBe("x\ny");
    expect(changetype<usize>(p.events[1].data.buffer)).not.toBe(changetype<usize>(body));
    // The unfinished last event was copied before the body went: a later chunk completes it.
    store<u8>(changetype<usize>(body) + 38, 0x21); // the "t" of "tail", in the body
    feed(p, "data: end\n\n");
    expect(p.events.length).toBe(3);
    expect(p.events[2].text).toBe("tail\nend");
  });
});
