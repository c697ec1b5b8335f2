import type { PrismaClient } from '../lib/db';
import {
  createdColumn,
  exportColumns,
  type ExportEntity,
  type ExportFilters,
  statusAppliesTo,
} from '../domain/exports';

/**
 * Reading an entity's rows for an export: one tenant's rows, filtered, in pages by keyset on the
 * primary key (`WHERE id > lastKey ORDER BY id LIMIT pageSize`), so every page costs the same
 * however deep into the table it is, and a page can be re-read exactly after a crash.
 */

type Where = Record<string, unknown>;

/** The model delegate of an entity, reduced to what an export calls on it. */
interface RowSource {
  findMany(args: {
    where: Where;
    orderBy: { id: 'asc' };
    take: number;
    select: Record<string, true>;
  }): Promise<Record<string, unknown>[]>;
  count(args: { where: Where }): Promise<number>;
}

function sourceOf(prisma: PrismaClient, entity: ExportEntity): RowSource {
  const delegates: Record<ExportEntity, unknown> = {
    slots: prisma.slot,
    'waitlist-entries': prisma.waitlistEntry,
    orders: prisma.order,
    retailers: prisma.retailer,
    vendors: prisma.vendor,
    notifications: prisma.notification,
  };
  return delegates[entity] as RowSource;
}

/** The tenant's rows of `entity` the filters select. */
export function exportWhere(tenantId: string, entity: ExportEntity, filters: ExportFilters): Where {
  const created: Record<string, Date> = {};
  if (filters.from) created.gte = new Date(filters.from);
  if (filters.to) created.lt = new Date(filters.to);
  return {
    tenantId,
    ...(Object.keys(created).length > 0 ? { [createdColumn[entity]]: created } : {}),
    ...(filters.status && statusAppliesTo(entity, filters.status) ? { status: filters.status } : {}),
  };
}

const selectOf = (entity: ExportEntity): Record<string, true> =>
  Object.fromEntries(exportColumns[entity].map((column) => [column, true] as const));

/** How many rows the export of `entity` will write. */
export function countExportRows(
  prisma: PrismaClient,
  tenantId: string,
  entity: ExportEntity,
  filters: ExportFilters,
): Promise<number> {
  return sourceOf(prisma, entity).count({ where: exportWhere(tenantId, entity, filters) });
}

/** The next page of `entity` after `lastKey` (from the start when null). */
export function readExportPage(
  prisma: PrismaClient,
  tenantId: string,
  entity: ExportEntity,
  filters: ExportFilters,
  lastKey: string | null,
  pageSize: number,
): Promise<Record<string, unknown>[]> {
  const where = exportWhere(tenantId, entity, filters);
  return sourceOf(prisma, entity).findMany({
    where: lastKey === null ? where : { ...where, id: { gt: lastKey } },
    orderBy: { id: 'asc' },
    take: pageSize,
    select: selectOf(entity),
  });
}
