/**
 * Who gets a freed slot next. Plain data and functions, free of Prisma, Temporal and Node, so
 * the cascade workflow, its activities and the API all rank alike.
 */

/** The fields the ranking reads; any row or DTO with them can be ranked. */
export interface RankedCandidate {
  id: string;
  priority: number;
  joinedAt: Date;
}

/**
 * The ranking as a sort specification: the highest priority first, then whoever joined first;
 * the ID only breaks exact ties, so two readers always agree on one order.
 * Its shape is Prisma's `orderBy`, so a query can push the ranking down to the database.
 */
export const candidateOrder = [{ priority: 'desc' }, { joinedAt: 'asc' }, { id: 'asc' }] as const;

/** Sort comparator implementing {@link candidateOrder}. */
export function compareCandidates(a: RankedCandidate, b: RankedCandidate): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const joined = a.joinedAt.getTime() - b.joinedAt.getTime();
  if (joined !== 0) return joined;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The best candidate among `candidates`, or undefined when there is none. */
export function pickNextCandidate<T extends RankedCandidate>(candidates: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const candidate of candidates) {
    if (best === undefined || compareCandidates(candidate, best) < 0) best = candidate;
  }
  return best;
}
