// Time spent inside a VM's exports, net of the host functions they call (for benchmarks; the filter cannot see
// it, and Envoy has nothing like it). Taking the time costs time: the part of each clock reading, argument
// spreading and wrapper call that falls inside an export's window is charged to the guest although Envoy would not
// spend it. timingOverhead() measures that share on a probe module, through the same code, so that a benchmark
// can report it next to the raw figure.
import { HOST_FUNCTIONS } from "../api.ts";

export type Timings = Map<string, { calls: number; ns: bigint }>;
type HostFunction = (...args: any[]) => any;

export class Stopwatch {
  readonly timings: Timings = new Map();
  private hostNs = 0n;

  /** Runs export `name`, charging it the time `run` took less that of the host functions it called. */
  time<T>(name: string, run: () => T): T {
    const started = process.hrtime.bigint();
    const hostBefore = this.hostNs;
    try {
      return run();
    } finally {
      this.add(name, process.hrtime.bigint() - started - (this.hostNs - hostBefore));
    }
  }

  /** The host functions, wrapped so that their time is not charged to the export that called them. */
  hostFunctions(functions: Record<string, HostFunction>): Record<string, HostFunction> {
    return Object.fromEntries(Object.entries(functions).map(([name, fn]) => [name, this.hostFunction(fn)]));
  }

  private hostFunction(fn: HostFunction): HostFunction {
    return (...args: any[]) => {
      const started = process.hrtime.bigint();
      try {
        return fn(...args);
      } finally {
        this.add(HOST_FUNCTIONS, process.hrtime.bigint() - started);
        // The bookkeeping above is the emulator's time too, not the guest's.
        this.hostNs += process.hrtime.bigint() - started;
      }
    };
  }

  private add(name: string, ns: bigint): void {
    const timing = this.timings.get(name) ?? { calls: 0, ns: 0n };
    timing.calls++;
    timing.ns += ns;
    this.timings.set(name, timing);
  }
}

export interface TimingOverhead {
  /** Charged to the guest per export call, beyond calling the export directly. */
  exportCallNs: number;
  /** Charged to the guest per host function call, beyond calling an unwrapped import. */
  hostCallNs: number;
}

/**
 * A module importing env.f(i32, i32) -> i32 and exporting spin(n), which calls f n times, and add(a, b). Written
 * out by hand: it is 100 bytes, and the emulator should not need a compiler to measure itself.
 */
function probeModule(): Uint8Array<ArrayBuffer> {
  const text = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, ...content: number[]) => [id, content.length, ...content];
  const I32 = 0x7f;
  const spin = [
    0x01, 0x02, I32, // locals: i, sum
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0x01, 0x20, 0x00, 0x4e, 0x0d, 0x01, // if (i >= n) break
    0x20, 0x01, 0x20, 0x02, 0x10, 0x00, 0x20, 0x02, 0x6a, 0x21, 0x02, // sum += f(i, sum)
    0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, // i++
    0x0c, 0x00, 0x0b, 0x0b, // continue; end loop, end block
    0x20, 0x02, 0x0b, // return sum
  ];
  const add = [0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, 2, 0x60, 2, I32, I32, 1, I32, 0x60, 1, I32, 1, I32),
    ...section(2, 1, ...text("env"), ...text("f"), 0x00, 0x00),
    ...section(3, 2, 1, 0),
    ...section(7, 2, ...text("spin"), 0x00, 1, ...text("add"), 0x00, 2),
    ...section(10, 2, spin.length, ...spin, add.length, ...add),
  ]);
}

/** The least of five measurements (the least disturbed one). */
function bestOfFive(measure: () => number): number {
  return Math.min(...Array.from({ length: 5 }, measure));
}

function wallNs(run: () => void): number {
  const started = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - started);
}

/** What the stopwatch charges a guest per export call and per host call, measured here and now (about 0.6 s). */
export function timingOverhead(): TimingOverhead {
  const module = new WebAssembly.Module(probeModule());
  const f = (a: number, b: number) => (a ^ b) | 0;
  const plain = new WebAssembly.Instance(module, { env: { f } }).exports as Record<string, (...args: number[]) => number>;
  const watch = new Stopwatch();
  const timed = new WebAssembly.Instance(module, { env: watch.hostFunctions({ f }) }).exports as typeof plain;
  const n = 200_000;
  /** Nanoseconds the stopwatch charged export `name` over `run`. */
  const chargedNs = (name: string, run: () => void) => {
    const before = watch.timings.get(name)?.ns ?? 0n;
    run();
    return Number(watch.timings.get(name)!.ns - before);
  };
  const spinCharged = bestOfFive(() => chargedNs("spin", () => watch.time("spin", () => timed.spin(n)))) / n;
  const addCharged = bestOfFive(() => chargedNs("add", () => { for (let i = 0; i < n; i++) watch.time("add", () => timed.add(i, 1)); })) / n;
  const spinPlain = bestOfFive(() => wallNs(() => plain.spin(n))) / n;
  const addPlain = bestOfFive(() => wallNs(() => { for (let i = 0; i < n; i++) plain.add(i, 1); })) / n;
  return { exportCallNs: Math.max(0, addCharged - addPlain), hostCallNs: Math.max(0, spinCharged - spinPlain) };
}
