#!/usr/bin/env node
// Installs Debian's chromium for the sidecar's browser test (driven by playwright-core, which
// downloads no browser of its own) when /usr/bin/chromium is missing; otherwise does nothing.
// CI runs as root, so apt-get works as it is.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";

function run(command, args) {
  const { status, signal, error } = spawnSync(command, args, {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (status !== 0) {
    console.error(
      `ensure-chromium: ${command} ${args.join(" ")} failed (${error?.message ?? signal ?? `exit ${status}`})`,
    );
    process.exit(1);
  }
}

if (!existsSync(CHROMIUM)) {
  console.log(`ensure-chromium: ${CHROMIUM} is missing; installing Debian's chromium`);
  run("apt-get", ["update"]);
  run("apt-get", ["install", "-y", "--no-install-recommends", "chromium"]);
  if (!existsSync(CHROMIUM)) {
    console.error(`ensure-chromium: chromium was installed but ${CHROMIUM} is still missing`);
    process.exit(1);
  }
}
