import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Every Holdfast workflow carries these, so the Web UI and `temporal workflow list --query`
 * can find a tenant's flows by business key and status without a job-state table.
 */
export const TenantIdKey = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const BusinessKeyKey = defineSearchAttributeKey('BusinessKey', SearchAttributeType.KEYWORD);
export const FlowStatusKey = defineSearchAttributeKey('FlowStatus', SearchAttributeType.KEYWORD);

/** What the dev server and `temporal operator search-attribute create` must register. */
export const customSearchAttributes = [TenantIdKey, BusinessKeyKey, FlowStatusKey] as const;
