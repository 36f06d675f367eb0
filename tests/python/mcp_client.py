"""Drives MCP servers over Streamable HTTP with the Python SDK's `Client` (PyPI `mcp` 2.x), as a Python agent
would, and prints what it saw as JSON; the Node tests (tests/e2e/python-*.test.ts) run it against the gateway and
check the report. One process runs several connections in turn, since importing the SDK costs a second or more.

    python mcp_client.py '[{"url": "http://127.0.0.1:PORT/mcp", "mode": "auto", "calls": [...]}, ...]'

Each connection's spec:
  url      the MCP endpoint.
  mode     the SDK's `Client(mode=...)`: "auto" (its default: probes server/discover, falls back to initialize),
           "legacy" (the initialize handshake only) or a modern version pin such as "2026-07-28".
  headers  optional HTTP headers on every request (e.g. a user's identity header). Without them the client is
           built as the SDK's README shows, `Client(url)`; with them, on an httpx2 client that carries them.
  calls    tool calls to make in order after listing the tools: {"name": ..., "arguments": {...}}.

Printed: a JSON list with one report per spec, in order. A call is reported as {"result": CallToolResult} or
{"error": {"code", "message"}} (a JSON-RPC error the SDK raised as MCPError). A connection that fails outside a
call (connecting, listing) is reported as {"failure": "Type: message"} and the next one runs. "closed" is true once
the client's context has exited: for a connection that holds a session, after the SDK has sent its DELETE.
"""

import json
import sys
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def make_client(spec: dict[str, Any]) -> Client:
    mode = spec.get("mode", "auto")
    headers = spec.get("headers")
    if not headers:
        return Client(spec["url"], mode=mode)
    return Client(streamable_http_client(spec["url"], http_client=httpx2.AsyncClient(headers=headers)), mode=mode)


async def list_all_tools(client: Client) -> list[Any]:
    tools: list[Any] = []
    cursor = None
    while True:
        page = await client.list_tools(cursor=cursor)
        tools.extend(dump(tool) for tool in page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return tools


async def call(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"result": dump(await client.call_tool(name, arguments))}
    except MCPError as error:
        return {"error": {"code": error.code, "message": error.message}}


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside anyio's task-group wrappers, which hide the one that matters."""
    inner = getattr(error, "exceptions", None)
    return [leaf for e in inner for leaf in leaves(e)] if inner else [error]


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"mode": spec.get("mode", "auto"), "url": spec["url"], "closed": False}
    try:
        async with make_client(spec) as client:
            report["protocolVersion"] = client.protocol_version
            info = client.server_info
            report["serverInfo"] = dump(info) if info is not None else None
            report["tools"] = await list_all_tools(client)
            report["calls"] = [await call(client, c["name"], c.get("arguments", {})) for c in spec.get("calls", [])]
        report["closed"] = True
    except Exception as failure:  # reported for the test to judge; anything else (a bug here) ends the script
        report["failure"] = "; ".join(f"{type(leaf).__name__}: {leaf}" for leaf in leaves(failure))
    return report


async def main(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [await run(spec) for spec in specs]


if __name__ == "__main__":
    print(json.dumps(anyio.run(main, json.loads(sys.argv[1]))))
