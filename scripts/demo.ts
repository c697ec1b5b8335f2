import { PLATFORM_TENANT_ID } from '../api/auth';
import { loadConfigOrExit } from '../lib/config';
import { signDevToken } from '../lib/dev-token';
import { eventsTour } from './demo/events';
import { exportsTour } from './demo/exports';
import { notificationsTour } from './demo/notifications';
import { onboardingTour } from './demo/onboarding';
import { operationsTour } from './demo/operations';
import { ordersTour } from './demo/orders';
import { remindersTour } from './demo/reminders';
import { reportsTour } from './demo/reports';
import { temporalClientsTour } from './demo/temporal-clients';
import { currentStepTitle, demoTenantId, show, step, StepFailed, type DemoTokens } from './demo/tour';
import { waitlistTour } from './demo/waitlist';
import { webhooksTour } from './demo/webhooks';

/**
 * `npm run demo [-- waitlist|orders|onboarding|notifications|events|webhooks|reminders|exports|reports|operations|temporal-clients]`: the tour (README.md, then docs/tour.md), run against a running `npm run dev`.
 *
 * Each step prints the command a person would type (curl, `npm run token`, `npm run temporal`), runs its
 * equivalent, and checks that the flow reached the expected state. Every run uses fresh data (slot names,
 * e-mail addresses, Idempotency-Keys, tenant slugs), so it passes any number of times on the same stack. It
 * waits for messages with the dev outbox's `since` and `wait`, never a fixed sleep. The first step that does
 * not reach its state stops the run with exit code 1 and names the step.
 *
 * Each walk-through is a module in scripts/demo/ exporting one function of the tokens; scripts/demo/tour.ts
 * holds what they share.
 */

/** Every walk-through, in the order a full run takes them. */
const tours = {
  waitlist: waitlistTour,
  orders: ordersTour,
  onboarding: onboardingTour,
  notifications: notificationsTour,
  events: eventsTour,
  webhooks: webhooksTour,
  reminders: remindersTour,
  exports: exportsTour,
  reports: reportsTour,
  operations: operationsTour,
  'temporal-clients': temporalClientsTour,
} as const;
type TourName = keyof typeof tours;

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(name in tours));
  if (unknown.length > 0) {
    process.stderr.write(
      `Unknown walk-through(s): ${unknown.join(', ')}. Usage: npm run demo [-- ${Object.keys(tours).join('|')}]\n`,
    );
    process.exit(2);
  }
  const names = (asked.length > 0 ? asked : Object.keys(tours)) as TourName[];

  // The same secrets as the running `npm run dev` (.data/dev-secrets.json, or HOLDFAST_DATA_DIR's).
  const config = loadConfigOrExit({ ...process.env, APP_ENV: 'development' });
  step('tokens');
  show('TOKEN=$(npm run -s token -- --tenant demo --role tenant-admin)');
  const tenant = {
    value: await signDevToken(config.auth, { tenantId: demoTenantId, roles: ['tenant-admin'] }),
    shownAs: 'TOKEN',
  };
  show(`ADMIN=$(npm run -s token -- --tenant ${PLATFORM_TENANT_ID} --role platform-admin)`);
  const platform = {
    value: await signDevToken(config.auth, { tenantId: PLATFORM_TENANT_ID, roles: ['platform-admin'] }),
    shownAs: 'ADMIN',
  };
  const tokens: DemoTokens = { tenant, platform };

  for (const name of names) {
    const started = Date.now();
    await tours[name](tokens);
    process.stdout.write(`\n✓ ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  }
}

main().catch((error: unknown) => {
  if (error instanceof StepFailed) {
    process.stderr.write(`\n✗ step "${currentStepTitle()}" failed: ${error.message}\n`);
  } else {
    process.stderr.write(
      `\n✗ step "${currentStepTitle()}" failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
  }
  process.exit(1);
});
