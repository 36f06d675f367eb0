import { BackendInfo, initializeResult } from "../../assembly/capabilities";
import { parseMessage } from "../../assembly/jsonrpc";
import { Scanner } from "../../assembly/json";

function info(result: string): BackendInfo {
  const m = parseMessage(Scanner.of(String.UTF8.encode('{"jsonrpc":"2.0","id":1,"result":' + result + "}")));
  return BackendInfo.of(m, "2025-06-18");
}

describe("the initialize result of the Higress-compatible mode", () => {
  it("carries the backend's tools, resources, prompts and completions, less what this mode cannot deliver", () => {
    const backend = info(
      '{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true,"x":1},"prompts":{},"completions":{},"logging":{},"experimental":{"e":{}}},"serverInfo":{"name":"b","version":"9"},"instructions":"Use \\"echo\\"."}',
    );
    expect(String.UTF8.decode(initializeResult(backend, "2025-11-25", "remote"))).toBe(
      '{"protocolVersion":"2025-11-25","capabilities":{"tools":{},"resources":{"x":1},"prompts":{},"completions":{}},"serverInfo":{"name":"remote","version":"0.1.0"},"instructions":"Use \\"echo\\"."}',
    );
  });

  it("a backend that declares nothing gets nothing declared for it", () => {
    expect(String.UTF8.decode(initializeResult(info('{"protocolVersion":"2025-06-18"}'), "2025-06-18", "s"))).toBe(
      '{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"s","version":"0.1.0"}}',
    );
  });
});
