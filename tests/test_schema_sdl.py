"""The committed `schema.graphql` is the SDL of `graph.schema:schema`: frontend teams code
against the file, so a schema change without re-exporting it fails here."""

from pathlib import Path

from graph.schema import schema

SDL = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_graphql_matches_the_schema() -> None:
    exported = schema.as_str() + "\n"
    assert SDL.read_text() == exported, (
        "schema.graphql is out of date: run `diamonds schema > schema.graphql`"
    )


def test_the_contract_core_is_in_the_schema() -> None:
    sdl = schema.as_str()
    for fragment in (
        "me: User\n",
        "giftCatalog: [Gift!]!",
        "coinBundles(currency: String!): [CoinBundle!]!",
        "stream(id: ID!): LiveStream",
        "node(id: ID!): Node",
        "type User implements Node",
        "coinWallet: Wallet\n",
        "diamondWallet: Wallet\n",
        "type Wallet implements Node",
        "balance: BigInt!",
        "available: BigInt!",
        "earnings: BigInt\n",
        "sendGift(input: SendGiftInput!): SendGiftPayload\n",
        "grantCoins(input: GrantCoinsInput!): GrantCoinsPayload\n",
        "startStream(input: StartStreamInput!): StartStreamPayload\n",
        "endStream(input: EndStreamInput!): EndStreamPayload\n",
    ):
        assert fragment in sdl, fragment
