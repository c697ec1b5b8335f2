import {
  answer,
  answerLink,
  anything,
  awaitMessage,
  expectAnswer,
  linkToken,
  poll,
  since,
  stamp,
  step,
  withStatus,
  type DemoTokens,
} from './tour';

/** A platform admin onboards a tenant; it becomes ACTIVE and its admin accepts the invitation. */
export async function onboardingTour({ platform }: DemoTokens): Promise<void> {
  const slug = `tour-${stamp}`;
  const adminEmail = `ada.${stamp}@acme.example.test`;

  step(`onboarding: a platform admin onboards the tenant ${slug}`);
  const started = since();
  await expectAnswer(
    {
      method: 'POST',
      path: '/api/v1/tenants',
      token: platform,
      body: { organizationName: `Acme Clinics ${stamp}`, slug, adminEmail, adminName: 'Ada', tier: 'professional' },
    },
    [202],
    anything,
  );

  step('onboarding: the tenant becomes ACTIVE');
  await poll(
    'the onboarding did not reach ACTIVE',
    (quiet) => answer({ path: `/api/v1/tenants/${slug}/onboarding`, token: platform }, withStatus, quiet),
    (progress) => progress.status === 'ACTIVE',
    90_000,
  );

  step('onboarding: the welcome email arrives, and its invitation is accepted');
  const welcome = await awaitMessage(platform, started, { to: adminEmail });
  await answerLink('/api/v1/invitations/accept', { token: linkToken(welcome, '/invitations/accept') }, 'ACTIVE');
}
