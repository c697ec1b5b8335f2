import { createHash } from 'node:crypto';
import type { TemplateName } from './notifications';

/**
 * Tenant identity and the defaults a new tenant is provisioned with. The slug is the tenant's
 * business key (URLs, the onboarding workflow ID); the ID is derived from it, so every request
 * for one slug names the same tenant before any row exists.
 *
 * Uses node:crypto, so workflows must not import this module.
 */

/** The plans a tenant can be on; enterprise onboardings wait for a platform admin's approval. */
export const tenantTiers = ['free', 'professional', 'enterprise'] as const;
export type TenantTier = (typeof tenantTiers)[number];

/** 3 to 63 characters of a-z, 0-9 and inner single hyphens: safe as a DNS label and in any URL. */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

/** Slugs that name platform routes or could pass for Holdfast itself. */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  'admin',
  'api',
  'app',
  'billing',
  'holdfast',
  'internal',
  'platform',
  'status',
  'support',
  'system',
  'www',
]);

/** Whether a slug may name a tenant: {@link SLUG_PATTERN} and not reserved. */
export function isValidSlug(slug: string): boolean {
  return SLUG_PATTERN.test(slug) && !RESERVED_SLUGS.has(slug);
}

/**
 * The slug an organisation name suggests: accents dropped, lowercased, every run of other
 * characters one hyphen, at most 63 characters. It may still be invalid (too short, reserved),
 * so callers check it with {@link isValidSlug}.
 */
export function slugFromName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

/** A fixed namespace for {@link tenantIdForSlug}; changing it would rename every future tenant. */
const TENANT_NAMESPACE = Buffer.from('5f0b8a52c8d24a4e9a7c3f1e6d2b9c40', 'hex');

/**
 * The tenant's ID: a name-based UUID (RFC 9562 version 5) of the slug. A repeated onboarding
 * request and a retried onboarding after a failure both land on the same tenant row, and the
 * API can answer with the ID before the workflow has written anything.
 */
export function tenantIdForSlug(slug: string): string {
  const hash = createHash('sha1').update(TENANT_NAMESPACE).update(slug, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface TierDefaults {
  /** Default hold for a waitlist offer, in minutes. */
  holdMinutes: number;
  /** How long notifications and audit rows are kept. */
  retentionDays: number;
  /** Which messages go out on which channels. */
  notificationTemplates: ReadonlyArray<{ template: TemplateName; channel: 'EMAIL' | 'SMS' }>;
}

const emailTemplates = [
  { template: 'waitlist.offer', channel: 'EMAIL' },
  { template: 'waitlist.confirmation', channel: 'EMAIL' },
  { template: 'waitlist.escalation', channel: 'EMAIL' },
] as const;

const smsTemplates = [
  { template: 'waitlist.offer', channel: 'SMS' },
  { template: 'waitlist.confirmation', channel: 'SMS' },
] as const;

/** What each tier starts with; a tenant admin may change the settings afterwards. */
export const tierDefaults: Record<TenantTier, TierDefaults> = {
  free: { holdMinutes: 15, retentionDays: 30, notificationTemplates: emailTemplates },
  professional: { holdMinutes: 30, retentionDays: 90, notificationTemplates: [...emailTemplates, ...smsTemplates] },
  enterprise: { holdMinutes: 60, retentionDays: 365, notificationTemplates: [...emailTemplates, ...smsTemplates] },
};
