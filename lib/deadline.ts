/**
 * Waits for `work` at most `withinMs`: 'done' when it settled in time (its failure, if any, is thrown), 'late'
 * when it had not. Work still pending is left running; a stop in progress moves on without it.
 */
export async function settleWithin(work: Promise<unknown>, withinMs: number): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), withinMs);
  });
  try {
    return await Promise.race([work.then(() => 'done' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
