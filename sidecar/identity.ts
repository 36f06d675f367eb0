// Whose credentials a session's child holds: the values of its server's `envFromHeaders` headers on
// the request that opened the session. The child got them once, as its environment, so the session
// belongs to them: every later request on it must carry the same values, whoever sends it.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { ServerConfig } from "./catalog.ts";

/**
 * Digests are keyed with a secret of this process, so that neither a digest nor a logged prefix of
 * one can be checked against guessed header values anywhere else.
 */
const KEY = randomBytes(32);

export interface Identity {
  /** The variables the session's child gets from the request's headers. */
  env: Record<string, string>;
  /** HMAC-SHA256 of `env`: fixed length, so that comparing two takes the same time whatever they hold. */
  digest: Buffer;
}

/** The identity of every request to a server without envFromHeaders: computed once, not per request. */
const NOBODY: Identity = Object.freeze({ env: Object.freeze({}), digest: digestOf({}) });

export function identityOf(server: ServerConfig, headers: IncomingHttpHeaders): Identity {
  if (Object.keys(server.envFromHeaders).length === 0) return NOBODY;
  const env = environmentFromHeaders(server, headers);
  // `env` is built in the catalog's order of variables, so equal values always encode alike; an
  // absent header leaves its variable out, which keeps "missing" apart from "empty".
  return { env, digest: digestOf(env) };
}

function digestOf(env: Record<string, string>): Buffer {
  return createHmac("sha256", KEY).update(JSON.stringify(env)).digest();
}

/** Constant-time: how long it takes says nothing about how much of a value was right. */
export function sameIdentity(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}

/** Eight hex digits of a digest, for logs: enough to tell identities apart, nothing about the values. */
export function identityTag(digest: Buffer): string {
  return digest.toString("hex", 0, 4);
}

/** envFromHeaders: the configured request headers become variables of the session's child. */
function environmentFromHeaders(server: ServerConfig, headers: IncomingHttpHeaders): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [variable, header] of Object.entries(server.envFromHeaders)) {
    const value = headers[header];
    const text = Array.isArray(value) ? value[0] : value;
    if (text !== undefined && !text.includes("\0")) env[variable] = text;
  }
  return env;
}
