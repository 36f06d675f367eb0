#!/usr/bin/env node
// The echo fixture, held back while the gate file named by its first argument exists: a test closes
// the gate to keep a restarted shared child from coming up until it has looked at the sidecar in
// between, however slow the machine. Messages sent meanwhile wait in the stdin pipe.
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const gate = process.argv[2];
while (gate !== undefined && existsSync(gate)) await sleep(20);
await import("../fixtures/stdio/echo-server.mjs");
