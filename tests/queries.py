"""GraphQL documents the API tests send, as the frontend teams would write them."""

SEND_GIFT = """
mutation Send($stream: ID!, $gift: ID!, $quantity: Int!, $key: String!) {
  sendGift(input: {streamId: $stream, giftId: $gift, quantity: $quantity, idempotencyKey: $key}) {
    giftSend { id quantity coins diamonds gift { name } sender { subject } }
    stream { id }
    coinWallet { balance available }
    replayed
    errors { field message code }
  }
}
"""

GRANT = """
mutation Grant($subject: String!, $coins: BigInt!, $reason: String!, $key: String!) {
  grantCoins(input: {subject: $subject, coins: $coins, reason: $reason, idempotencyKey: $key}) {
    wallet { balance }
    replayed
    errors { field message code }
  }
}
"""
