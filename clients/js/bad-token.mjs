// Apollo Client over HttpLink with a token the server refuses:
// `node bad-token.mjs <http-url-of-/graphql>`. Runs Wallet (from ../operations) and prints one
// JSON line: whether Apollo read the 401's GraphQL errors (CombinedGraphQLErrors) and their codes.
import { readFileSync } from "node:fs";
import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from "@apollo/client";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node bad-token.mjs <url>");
  process.exit(64);
}

const client = new ApolloClient({
  link: new HttpLink({ uri: url, headers: { Authorization: "Bearer not-a-token" } }),
  cache: new InMemoryCache(),
});
const query = gql(readFileSync(new URL("../operations/Wallet.graphql", import.meta.url), "utf8"));
const result = await client.query({ query, fetchPolicy: "network-only", errorPolicy: "all" });
const error = result.error;
process.stdout.write(
  `${JSON.stringify({
    event: "result",
    data: result.data ?? null,
    graphQLErrors: CombinedGraphQLErrors.is(error),
    codes: CombinedGraphQLErrors.is(error) ? error.errors.map((e) => e.extensions?.code) : [],
    message: error?.message ?? null,
  })}\n`,
);
client.stop();
