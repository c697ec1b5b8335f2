/**
 * Which key encrypts a payload: its scope. A tenant's flows are encrypted under a key of their own
 * (`tenant/<tenant id>`), an onboarding under its slug's (`onboarding/<slug>`: the tenant has no row
 * yet when it starts), and the platform's own flows (the daily cleanup, the outbox sweep) under
 * `platform`. Erasing a tenant destroys its scopes' keys (crypto-shredding).
 *
 * The scope is read from the workflow ID the SDK passes to the codec: every tenant flow's ID names its
 * tenant in its second segment (`waitlist:<tenant id>:<slot id>`, `order:<tenant id>:<order id>`, …),
 * which test/unit/payload-scope.test.ts checks against every contract's ID function.
 */

export type PayloadScope = `tenant/${string}` | `onboarding/${string}` | 'platform';

export const PLATFORM_SCOPE = 'platform' as const;

/** The flows whose workflow ID is `<prefix>:<tenant id>:…`. */
const tenantFlowPrefixes = new Set([
  'waitlist',
  'order',
  'notification',
  'reminder',
  'report',
  'report-schedule',
  'export',
  'export-lane',
  'event',
  'webhook',
]);

const ONBOARDING_PREFIX = 'tenant-onboarding';

export function tenantScope(tenantId: string): PayloadScope {
  return `tenant/${tenantId}`;
}

export function onboardingScope(slug: string): PayloadScope {
  return `onboarding/${slug}`;
}

/**
 * The scope of a workflow's payloads; IDs no tenant flow uses belong to the platform. So does an ID whose
 * owner segment cannot name a scope (`order:acme.co:1`): decoding refuses such a scope as tampered, so
 * encoding under it would write payloads nobody could read.
 */
export function scopeOfWorkflowId(workflowId: string | undefined): PayloadScope {
  if (!workflowId) return PLATFORM_SCOPE;
  const [prefix, owner] = workflowId.split(':');
  if (!owner) return PLATFORM_SCOPE;
  let scope: PayloadScope = PLATFORM_SCOPE;
  if (tenantFlowPrefixes.has(prefix!)) scope = tenantScope(owner);
  else if (prefix === ONBOARDING_PREFIX) scope = onboardingScope(owner);
  return isPayloadScope(scope) ? scope : PLATFORM_SCOPE;
}

/** Whether `text` is a scope this module could have produced (the codec refuses anything else). */
export function isPayloadScope(text: string): text is PayloadScope {
  return text === PLATFORM_SCOPE || /^(tenant|onboarding)\/[A-Za-z0-9_-]{1,100}$/.test(text);
}

/** The tenant a scope belongs to, when it is a tenant scope. */
export function tenantIdOfScope(scope: string): string | undefined {
  return scope.startsWith('tenant/') ? scope.slice('tenant/'.length) : undefined;
}

/** The slug an onboarding scope belongs to. */
export function slugOfScope(scope: string): string | undefined {
  return scope.startsWith('onboarding/') ? scope.slice('onboarding/'.length) : undefined;
}
