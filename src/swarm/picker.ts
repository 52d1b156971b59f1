/**
 * Piece-selection policies: pure functions from what the swarm looks like to which
 * chunks to ask one peer for next. The scheduler decides eligibility; a policy only orders.
 */
export interface PickContext {
  /** The chunks worth considering (missing, asked of nobody), rarest first with ties in random order (availability.ts). */
  candidates: ArrayLike<number>;
  /** Does the peer have this chunk? A cheap test, made before `eligible`. */
  holds: (chunk: number) => boolean;
  /** How many of the candidates the peer has: once all are seen, looking further is pointless. */
  held: number;
  /** May this peer be asked for this chunk now? */
  eligible: (chunk: number) => boolean;
  /** In [0, 1): tie-breaks and random picks. Injected so tests are repeatable. */
  random: () => number;
}

export type PiecePolicy = (limit: number, ctx: PickContext) => number[];

/** The `limit` eligible chunks with the lowest scores, lowest first. Each chunk is scored once. */
function lowestScores(limit: number, ctx: PickContext, score: (chunk: number) => number): number[] {
  if (limit <= 0) return [];
  const best: { chunk: number; score: number }[] = [];
  const { candidates } = ctx;
  let seen = 0;
  for (let i = 0; i < candidates.length && seen < ctx.held; i++) {
    const chunk = candidates[i]!;
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
 * Rarest first: the chunks fewest peers have, so copies spread before a holder leaves. The
 * candidates come in that order, ties already shuffled, so the first eligible ones are the
 * picks and the look ends there: a pick costs the chunks it skips, not the chunks missing.
 */
export const rarestFirst: PiecePolicy = (limit, ctx) => {
  const picks: number[] = [];
  const { candidates } = ctx;
  let seen = 0;
  for (let i = 0; i < candidates.length && seen < ctx.held && picks.length < limit; i++) {
    const chunk = candidates[i]!;
    if (!ctx.holds(chunk)) continue;
    seen++;
    if (ctx.eligible(chunk)) picks.push(chunk);
  }
  return picks;
};

/** Uniformly random eligible chunks: a new peer's first picks, so it soon has something to trade. */
export const randomFirst: PiecePolicy = (limit, ctx) => lowestScores(limit, ctx, () => ctx.random());
