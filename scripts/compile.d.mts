// Types for compile.mjs.
export declare const PINNED_ASSEMBLYSCRIPT: string;
export declare function assertSwappable(compiler: { version: string; libraryFiles: Record<string, string> }): void;
export declare function compileFilter(options: {
  entry: string;
  outFile: string;
  target?: "release" | "debug" | "test";
  baseDir?: string;
  textFile?: string;
}): Promise<{ ok: boolean; stderr: string }>;
