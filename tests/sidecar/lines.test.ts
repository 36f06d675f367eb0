// The bounded line splitter that frames a child's stdout and stderr.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LineSplitter } from "../../sidecar/lines.ts";

const TEST = { timeout: 30_000 };

function split(chunks: Array<string | Buffer>, maxBytes: number) {
  const lines: string[] = [];
  const oversize: Array<{ bytes: number; sample: string }> = [];
  const splitter = new LineSplitter(maxBytes, {
    line: (t) => lines.push(t),
    oversize: (bytes, sample) => oversize.push({ bytes, sample }),
  });
  for (const chunk of chunks) splitter.push(Buffer.from(chunk));
  splitter.flush();
  return { lines, oversize };
}

test("lines split across chunks are joined; CRLF and a last unterminated line are handled", TEST, () => {
  assert.deepEqual(split(['{"a":', '1}\r\n{"b"', ":2}\n\n", "tail"], 100).lines, ['{"a":1}', '{"b":2}', "", "tail"]);
});

test("a line over the limit is reported with its full size and dropped; its neighbours survive", TEST, () => {
  const huge = "y".repeat(10_000);
  const chunks = ["before\n", ...huge.match(/.{1,999}/g)!, "\nafter\n"];
  const { lines, oversize } = split(chunks, 1024);
  assert.deepEqual(lines, ["before", "after"]);
  assert.equal(oversize.length, 1);
  assert.equal(oversize[0].bytes, 10_000);
  assert.equal(oversize[0].sample, "y".repeat(200));
});

test("multi-byte characters split between chunks are decoded whole", TEST, () => {
  const bytes = Buffer.from("é€\n");
  assert.deepEqual(split([bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4)], 100).lines, ["é€"]);
});
