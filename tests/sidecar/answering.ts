// Clients that answer a server's questions (elicitation, sampling, roots) as a user and a model would, for the tests
// of server-to-client requests through the sidecar, in both SDK generations.
import type { Client as ModernClient } from "@modelcontextprotocol/client";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

/** What every answering client declares. */
export const CLIENT_CAPABILITIES = { sampling: {}, elicitation: {}, roots: {} };
const ROOTS = { roots: [{ uri: "file:///work/project", name: "project" }] };
const SAMPLED = { role: "assistant", content: { type: "text", text: "a sampled reply" }, model: "test-model" } as const;
const elicited = (message: string) =>
  ({ action: "accept", content: { name: "Ada", value: `answer to ${message}` } }) as const;

/** Prepares a 1.x client to answer. */
export function answering(client: Client): void {
  client.setRequestHandler(ElicitRequestSchema, async (request) => elicited(request.params.message));
  client.setRequestHandler(CreateMessageRequestSchema, async () => SAMPLED);
  client.setRequestHandler(ListRootsRequestSchema, async () => ROOTS);
}

/** Prepares a 2.x client to answer, and records in `asked` what it was asked. */
export function answeringModern(asked: string[] = []) {
  return (client: ModernClient) => {
    client.setRequestHandler("elicitation/create", async (request) => {
      asked.push(`elicitation: ${request.params.message}`);
      return elicited(request.params.message);
    });
    client.setRequestHandler("sampling/createMessage", async () => {
      asked.push("sampling");
      return SAMPLED;
    });
    client.setRequestHandler("roots/list", async () => {
      asked.push("roots");
      return ROOTS;
    });
  };
}

/** The text parts of a tool result, one per line. */
export const allText = (result: unknown) =>
  (result as { content: Array<{ text?: string }> }).content.map((part) => part.text ?? "").join("\n");
