// The status page at `/`: one self-contained HTML file (inline CSS and JS, no build step, nothing
// fetched from elsewhere). It carries no data; its script reads /status and the REST tool API.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendStatus } from "./http.ts";

const PAGE = readFileSync(new URL("./status-page.html", import.meta.url), "utf8");

/** Only the page's own inline style and script may run, and it may talk only to us. */
const POLICY = [
  "default-src 'none'",
  `style-src ${inlineHashes("style")}`,
  `script-src ${inlineHashes("script")}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function inlineHashes(tag: string): string {
  const blocks = [...PAGE.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))];
  return blocks.map(([, body]) => `'sha256-${createHash("sha256").update(body).digest("base64")}'`).join(" ");
}

export function sendStatusPage(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== "GET" && req.method !== "HEAD") return sendStatus(res, 405, { allow: "GET, HEAD" });
  res.writeHead(200, {
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(PAGE),
    "content-security-policy": POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  });
  res.end(req.method === "HEAD" ? undefined : PAGE);
}
