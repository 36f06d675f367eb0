// Splits a byte stream into lines while holding at most `maxBytes` of one line in memory: a longer
// line is discarded up to its newline and reported, so a misbehaving child cannot grow our heap.

const NEWLINE = 0x0a;
const SAMPLE_BYTES = 200;

export interface LineHandlers {
  line(text: string): void;
  /** A line longer than the limit was dropped; `sample` is its start, for the log. */
  oversize(totalBytes: number, sample: string): void;
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private discarding = false;
  private discarded = 0;
  private sample = "";

  constructor(
    private readonly maxBytes: number,
    private readonly handlers: LineHandlers,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      this.take(chunk.subarray(start, end));
      if (newline === -1) return;
      this.finishLine();
      start = newline + 1;
    }
  }

  /** Emits a last line that had no newline (the stream ended). */
  flush(): void {
    if (this.held > 0 || this.discarding) this.finishLine();
  }

  private take(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.discarding) {
      this.discarded += piece.length;
      return;
    }
    if (this.held + piece.length > this.maxBytes) {
      this.sample = Buffer.concat([...this.parts, piece])
        .subarray(0, SAMPLE_BYTES)
        .toString("utf8");
      this.discarded = this.held + piece.length;
      this.discarding = true;
      this.parts = [];
      this.held = 0;
      return;
    }
    this.parts.push(Buffer.from(piece));
    this.held += piece.length;
  }

  private finishLine(): void {
    if (this.discarding) {
      this.handlers.oversize(this.discarded, this.sample);
      this.discarding = false;
      this.discarded = 0;
      return;
    }
    const text = Buffer.concat(this.parts).toString("utf8");
    this.parts = [];
    this.held = 0;
    this.handlers.line(text.endsWith("\r") ? text.slice(0, -1) : text);
  }
}
