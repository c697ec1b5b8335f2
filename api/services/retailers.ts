import { createOrderCreditActivities } from '../../activities/order-credit';
import type { PrismaClient } from '../../lib/db';
import { notFound } from '../errors';

/**
 * Recalculates a retailer's credit score now (a manual recalculation) with the scoring
 * order routing uses after each payment: one computation over the retailer's orders and payments,
 * so it runs in the request rather than in a workflow. Running it twice writes the same score;
 * each request is audited once, as `retailer.credit-score` with the caller as actor.
 *
 * @throws 404 NOT_FOUND for a retailer outside the tenant.
 */
export async function recalculateCreditScore(
  prisma: PrismaClient,
  { tenantId, actor }: { tenantId: string; actor: string },
  retailerId: string,
) {
  const retailer = await prisma.retailer.findFirst({ where: { id: retailerId, tenantId } });
  if (!retailer) throw notFound('Retailer', { id: retailerId });
  const credit = createOrderCreditActivities({ prisma });
  // The scorer writes the one audit row, attributed to the caller.
  const { creditScore } = await credit.recalculateCreditScore({ tenantId, retailerId, trigger: 'manual', actor });
  return { retailerId, creditScore, previousScore: retailer.creditScore };
}
