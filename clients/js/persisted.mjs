// Apollo Client over HttpLink with the persisted-queries link (SHA-256 from node's crypto)
// against a Diamonds server's automatic persisted queries:
// `node persisted.mjs <http-url-of-/graphql> <post|get>`.
// Runs GiftCatalog (from ../operations) twice, network-only. Prints one JSON line per HTTP
// exchange the link made ({"event": "http", method, sentQuery, persistedQuery, status, data,
// errorCodes}) and one per result ({"event": "result", data, error}).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, mode = "post"] = process.argv.slice(2);
if (!url || !["post", "get"].includes(mode)) {
  console.error("usage: node persisted.mjs <url> <post|get>");
  process.exit(64);
}

const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

// What went over the wire, as the server saw it and answered.
async function recordingFetch(input, init = {}) {
  const method = init.method ?? "GET";
  let sent = {};
  if (method === "GET") {
    const params = new URL(String(input)).searchParams;
    sent = {
      query: params.get("query") ?? undefined,
      extensions: params.has("extensions") ? JSON.parse(params.get("extensions")) : undefined,
    };
  } else {
    sent = JSON.parse(init.body);
  }
  const response = await fetch(input, init);
  const body = JSON.parse(await response.clone().text());
  print({
    event: "http",
    method,
    sentQuery: typeof sent.query === "string",
    persistedQuery: sent.extensions?.persistedQuery ?? null,
    status: response.status,
    data: "data" in body,
    errorCodes: (body.errors ?? []).map((error) => error.extensions?.code ?? null),
  });
  return response;
}

const link = new PersistedQueryLink({
  sha256: (text) => createHash("sha256").update(text).digest("hex"),
  useGETForHashedQueries: mode === "get",
}).concat(new HttpLink({ uri: url, fetch: recordingFetch }));
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const query = gql(readFileSync(new URL("../operations/GiftCatalog.graphql", import.meta.url), "utf8"));
for (let call = 0; call < 2; call += 1) {
  const result = await client.query({ query, fetchPolicy: "network-only" });
  print({ event: "result", data: result.data ?? null, error: result.error?.message ?? null });
}
client.stop();
