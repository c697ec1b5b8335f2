import { isUniqueViolation } from '../lib/db';

/**
 * Inserts a row identified by a business key (an order's routing attempt `n`, a cascade's round
 * `n`) once, however often an activity retry or a concurrent duplicate asks: the row already
 * there is returned as is; otherwise `insert` runs, and when a concurrent insert wins the unique
 * key first, the winner's row is read back instead of failing.
 */
export async function insertOnce<Row>(find: () => Promise<Row | null>, insert: () => Promise<Row>): Promise<Row> {
  const found = await find();
  if (found) return found;
  try {
    return await insert();
  } catch (error) {
    if (isUniqueViolation(error)) {
      const raced = await find();
      if (raced) return raced;
    }
    throw error;
  }
}
