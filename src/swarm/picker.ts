/**
 * Piece-selection policies: pure functions from what the swarm looks like to which
 * chunks to ask one peer for next. The scheduler decides eligibility; a policy only orders.
 */
export interface PickContext {
  /** The chunks worth considering (the ones still missing), rarest first: a policy that prefers rare chunks can stop early. */
  candidates: ArrayLike<number>;
  /** Does the peer have this chunk? A cheap test, made before `eligible`. */
  holds: (chunk: number) => boolean;
  /** How many of the candidates the peer has: once all are seen, looking further is pointless. */
  held: number;
  /** How many connected peers have each chunk. */
  availability: ArrayLike<number>;
  /** May this peer be asked for this chunk now? */
  eligible: (chunk: number) => boolean;
  /** In [0, 1): tie-breaks and random picks. Injected so tests are repeatable. */
  random: () => number;
}

export type PiecePolicy = (limit: number, ctx: PickContext) => number[];

/**
 * The `limit` eligible chunks with the lowest scores, lowest first. Each chunk is scored once.
 * With `floor` (no chunk from this one on scores below it), the look stops once none can do better.
 */
function lowestScores(limit: number, ctx: PickContext, score: (chunk: number) => number, floor?: (chunk: number) => number): number[] {
  if (limit <= 0) return [];
  const best: { chunk: number; score: number }[] = [];
  const { candidates } = ctx;
  let seen = 0;
  for (let i = 0; i < candidates.length && seen < ctx.held; i++) {
    const chunk = candidates[i]!;
    if (floor && best.length === limit && floor(chunk) >= best[limit - 1]!.score) break;
    if (!ctx.holds(chunk)) continue;
    seen++;
    if (!ctx.eligible(chunk)) continue;
    const s = score(chunk);
    if (best.length === limit && s >= best[limit - 1]!.score) continue;
    let at = best.length;
    while (at > 0 && (best[at - 1]!.score > s || (best[at - 1]!.score === s && best[at - 1]!.chunk > chunk))) at--;
    best.splice(at, 0, { chunk, score: s });
    if (best.length > limit) best.pop();
  }
  return best.map((b) => b.chunk);
}

/**
 * Rarest first: the chunks fewest peers have, so copies spread before a holder leaves.
 * The integer part of the score is the availability; the random fraction breaks ties, so
 * that peers starting together diverge and have something to trade.
 */
export const rarestFirst: PiecePolicy = (limit, ctx) =>
  lowestScores(
    limit,
    ctx,
    (chunk) => ctx.availability[chunk]! + ctx.random(),
    (chunk) => ctx.availability[chunk]!,
  );

/** Uniformly random eligible chunks: a new peer's first picks, so it soon has something to trade. */
export const randomFirst: PiecePolicy = (limit, ctx) => lowestScores(limit, ctx, () => ctx.random());
