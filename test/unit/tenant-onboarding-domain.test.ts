import { hashInvitationToken, invitationToken, invitationUrl } from '../../domain/invitation-token';
import { isValidSlug, slugFromName, tenantIdForSlug, tierDefaults } from '../../domain/tenants';
import { renderNotification } from '../support/legacy-messages';

describe('tenant slugs and IDs', () => {
  it.each([
    ['Acme Clinics', 'acme-clinics'],
    ['Café Zürich & Co.', 'cafe-zurich-co'],
    ['  --Dr. Smith’s  Practice--  ', 'dr-smith-s-practice'],
    ['ÅÄÖ 123', 'aao-123'],
  ])('makes the slug of %j: %j', (name, slug) => {
    expect(slugFromName(name)).toBe(slug);
    expect(isValidSlug(slug)).toBe(true);
  });

  it('never makes a slug longer than 63 characters or ending in a hyphen', () => {
    const slug = slugFromName(`${'a'.repeat(62)} b`);

    expect(slug).toBe('a'.repeat(62));
    expect(isValidSlug(slug)).toBe(true);
  });

  it.each(['ab', 'Acme', 'acme_clinic', '-acme', 'acme-', 'ac--me', 'admin', 'api', 'a'.repeat(64)])(
    'refuses the slug %j',
    (slug) => {
      expect(isValidSlug(slug)).toBe(false);
    },
  );

  it('derives the same version-5 UUID from the same slug, and different ones from different slugs', () => {
    const id = tenantIdForSlug('acme-clinics');

    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(tenantIdForSlug('acme-clinics')).toBe(id);
    expect(tenantIdForSlug('acme-clinic')).not.toBe(id);
  });

  it('gives paid tiers SMS templates and longer retention than the free tier', () => {
    const channels = (tier: keyof typeof tierDefaults) =>
      new Set(tierDefaults[tier].notificationTemplates.map((t) => t.channel));

    expect([...channels('free')]).toEqual(['EMAIL']);
    expect([...channels('professional')].sort()).toEqual(['EMAIL', 'SMS']);
    expect(tierDefaults.enterprise.retentionDays).toBeGreaterThan(tierDefaults.free.retentionDays);
  });
});

describe('invitation tokens', () => {
  const claims = { tenantId: 't-1', userId: 'u-1', onboardingId: 'tenant-onboarding:acme:run-1' };

  it('are derived, so every retry of the welcome email rebuilds the same token, and a new onboarding makes a new one', () => {
    const token = invitationToken('secret-0123456789-0123456789-0123', claims);

    expect(invitationToken('secret-0123456789-0123456789-0123', claims)).toBe(token);
    expect(invitationToken('secret-0123456789-0123456789-0123', { ...claims, onboardingId: 'x:run-2' })).not.toBe(
      token,
    );
    expect(invitationToken('another-secret-0123456789-01234567', claims)).not.toBe(token);
    expect(token).toMatch(/^[\w-]{43}$/);
  });

  it('are stored only as a SHA-256 hash, and travel in the link as a query parameter', () => {
    const token = invitationToken('secret-0123456789-0123456789-0123', claims);

    expect(hashInvitationToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashInvitationToken(token)).not.toContain(token);
    expect(new URL(invitationUrl('https://holdfast.example/', token)).searchParams.get('token')).toBe(token);
  });
});

describe('onboarding messages', () => {
  it('the welcome email carries the invitation link and its expiry date', () => {
    const message = renderNotification('EMAIL', {
      name: 'tenant.welcome',
      data: {
        organizationName: 'Acme',
        adminName: 'Ada',
        tier: 'professional',
        invitationUrl: 'https://holdfast.example/api/v1/invitations/accept?token=abc',
        invitationExpiresAt: '2026-12-09T10:00:00.000Z',
      },
    });

    expect(message.subject).toBe('Welcome to Holdfast, Acme');
    expect(message.text).toContain('https://holdfast.example/api/v1/invitations/accept?token=abc');
    expect(message.text).toContain('2026-12-09');
  });

  it('the platform admin report lists what was undone and flags what needs a person', () => {
    const message = renderNotification('EMAIL', {
      name: 'onboarding.unsuccessful',
      data: {
        organizationName: 'Acme',
        slug: 'acme',
        tenantId: 't-1',
        workflowId: 'tenant-onboarding:acme',
        outcome: 'failed',
        reason: 'sendWelcomeEmail failed: mailbox unavailable',
        failedStep: 'sendWelcomeEmail',
        compensations: [
          { step: 'cancelBillingSubscription', status: 'done', error: null },
          { step: 'deleteBillingCustomer', status: 'failed', error: 'Invalid API Key provided' },
        ],
      },
    });

    expect(message.subject).toBe('Onboarding of Acme failed');
    expect(message.text).toContain('cancelBillingSubscription: undone');
    expect(message.text).toContain('deleteBillingCustomer: FAILED (Invalid API Key provided)');
    expect(message.text).toContain('need a person');
  });
});
