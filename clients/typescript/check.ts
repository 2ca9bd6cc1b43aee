// What a frontend writes against the generated types (generated/operations.ts, from
// schema.graphql and ../operations/*.graphql): `tsc --noEmit` compiles it, so a schema change
// that breaks an operation, or a scalar whose mapping in codegen.json no longer matches its wire
// form (graph/scalars.py), fails CI. Nothing here runs; the assertions are on types only.
import type {
  EntryKind,
  GiftReceivedSubscription,
  LeaderboardChangedSubscription,
  LeaderboardQuery,
  LiveStreamsQuery,
  PayoutStatus,
  PayoutStatusChangedSubscription,
  PayoutsQuery,
  PayoutsQueryVariables,
  RequestPayoutMutation,
  RequestPayoutMutationVariables,
  SendGiftMutation,
  SendGiftMutationVariables,
  StreamQuery,
  WalletChangedSubscription,
  WalletHistoryQuery,
  WalletQuery,
} from './generated/operations';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

// BigInt goes out as a JSON number (graph/scalars.py) and is read as a string of digits or a number.
type Balance = WalletQuery['me']['coinWallet']['balance'];
type PayoutDiamondsInput = RequestPayoutMutationVariables['input']['diamonds'];
// DateTime and Date are ISO 8601 strings; ids are the API's opaque global id strings.
type StartedAt = LiveStreamsQuery['liveStreams']['edges'][number]['node']['startedAt'];
type StreamId = NonNullable<StreamQuery['stream']>['id'];

export type ScalarMappings = [
  Expect<Equal<Balance, number>>,
  Expect<Equal<PayoutDiamondsInput, number | string>>,
  Expect<Equal<StartedAt, string>>,
  Expect<Equal<StreamId, string>>,
];

export function sendFiveRoses(streamId: string, giftId: string): SendGiftMutationVariables {
  return { input: { streamId, giftId, quantity: 5, idempotencyKey: `roses-${streamId}-1` } };
}

export function refusedBecause(result: SendGiftMutation): string | null {
  const [first] = result.sendGift.errors;
  if (first === undefined) return null;
  // The code is the mutation's own enum: a typo here would not compile.
  return first.code === 'INSUFFICIENT_COINS' ? 'top up your coins' : first.message;
}

export const cashOutAboveTwoToThe53: RequestPayoutMutationVariables = {
  input: { diamonds: '9007199254740993', provider: 'paypal', currency: 'USD', idempotencyKey: 'k1' },
};

// @ts-expect-error quantity is an Int, not a string
export const badQuantity: SendGiftMutationVariables = { input: { streamId: 's', giftId: 'g', quantity: '5', idempotencyKey: 'k' } };

export function payoutNet(result: RequestPayoutMutation): number {
  return result.requestPayout.payout?.net ?? 0;
}

export function paidTotal(page: PayoutsQuery): number {
  return page.payouts.edges
    .filter((edge) => edge.node.status === 'PAID')
    .reduce((sum, edge) => sum + edge.node.net, 0);
}

export const awaitingApproval: PayoutsQueryVariables = { first: 50, status: 'AWAITING_APPROVAL' };

export function historyKinds(result: WalletHistoryQuery): EntryKind[] {
  const node = result.node;
  if (node === null || node.__typename !== 'Wallet') return [];
  return node.transactions.edges.map((edge) => edge.node.kind);
}

export function topGifter(result: LeaderboardQuery): string | null {
  return result.stream?.leaderboard[0]?.user.displayName ?? null;
}

export function streamTotal(message: GiftReceivedSubscription): number {
  return message.giftReceived.gifts.reduce((sum, gift) => Math.max(sum, gift.streamTotal), message.giftReceived.streamTotal);
}

export function places(message: LeaderboardChangedSubscription): string[] {
  return message.leaderboardChanged.entries.map((entry) => `${entry.rank}. ${entry.user.displayName}`);
}

export function balanceAfter(message: WalletChangedSubscription): number {
  return message.walletChanged.wallet.balance;
}

export function isFinal(message: PayoutStatusChangedSubscription): boolean {
  const final: readonly PayoutStatus[] = ['PAID', 'FAILED', 'RETURNED', 'CANCELED', 'REJECTED'];
  return final.includes(message.payoutStatusChanged.status);
}
