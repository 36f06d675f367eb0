#!/usr/bin/env node
// Launcher: registers tsx so the TypeScript sources run as they are, whether started as
// `mcp-sidecar`, `node sidecar/bin.mjs` or `node --import tsx sidecar/bin.mjs`.
import { register } from "tsx/esm/api";

register();
await import("./main.ts");
