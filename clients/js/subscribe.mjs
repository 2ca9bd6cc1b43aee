// graphql-ws's createClient, as a frontend uses it, against a Diamonds server:
// `node subscribe.mjs <http-url-of-/graphql> <token> <stream-global-id>`.
// Subscribes to WalletChanged (signed in, the token in connectionParams) and GiftReceived
// (public), both from ../operations, on one connection. Prints one JSON line per event
// ({"event": "connected"}, {"event": "next", "operation", "payload"}, {"event": "error", ...}),
// and disposes the client and exits when its standard input closes.
import { readFileSync } from "node:fs";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, streamId] = process.argv.slice(2);
if (!url || !token || !streamId) {
  console.error("usage: node subscribe.mjs <url> <token> <streamId>");
  process.exit(64);
}

const operation = (name) =>
  readFileSync(new URL(`../operations/${name}.graphql`, import.meta.url), "utf8");
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const client = createClient({
  url: url.replace(/^http/, "ws"),
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: {
    connected: () => print({ event: "connected" }),
    closed: (event) => print({ event: "closed", code: event?.code, reason: event?.reason }),
  },
});

function subscribe(name, variables) {
  client.subscribe(
    { query: operation(name), operationName: name, variables },
    {
      next: (payload) => print({ event: "next", operation: name, payload }),
      error: (error) => {
        const detail = error instanceof Error ? error.message : error;
        print({ event: "error", operation: name, error: detail });
      },
      complete: () => print({ event: "complete", operation: name }),
    },
  );
}

subscribe("WalletChanged", {});
subscribe("GiftReceived", { streamId });

process.stdin.resume();
process.stdin.on("end", async () => {
  await client.dispose();
  process.exit(0);
});
