// The project's cache outside the clone, ~/.cache/mcp-proxy-wasm ($XDG_CACHE_HOME honoured): the one-off builds and
// downloads (istioctl, Node releases, conformance runners, the compose base image, the bench's tools) that a fresh
// clone on the same machine reuses.
import { homedir } from "node:os";
import { join } from "node:path";

export const cacheDir = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "mcp-proxy-wasm");
