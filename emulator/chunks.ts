// Envoy's HTTP/1 codec hands the last body chunk of a message to filters with end_stream set (it dispatches the
// buffered body at message complete). Node emits 'end' separately, so the latest chunk is held back until either
// more data arrives or the message ends within the same turn of the event loop.
import type { Readable } from "node:stream";

export function forwardChunks(source: Readable, emit: (chunk: Buffer, endStream: boolean) => void): void {
  let pending: Buffer | undefined;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending) {
      const chunk = pending;
      pending = undefined;
      emit(chunk, false);
    }
  };
  source.on("data", (chunk: Buffer) => {
    if (pending) emit(pending, false);
    pending = chunk;
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  source.on("end", () => {
    const chunk = pending ?? Buffer.alloc(0);
    pending = undefined;
    emit(chunk, true);
  });
}
