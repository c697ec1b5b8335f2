import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { withRecordingWorker, type FlowRecording } from '../history-recording';
import { tenantOnboardingId } from '../../../workflows/tenant-onboarding.contract';
import { BusinessKeyKey, FlowStatusKey, TenantIdKey } from '../../../workflows/search-attributes';
import {
  approveOnboardingUpdate,
  getOnboardingProgressQuery,
  tenantOnboardingWorkflow,
  type TenantOnboardingInput,
} from '../../../workflows/tenant-onboarding';
import { FakeOnboarding } from '../onboarding-fake';

/*
 * The paths through tenant onboarding whose histories test/histories/onboarding-*.json hold, run
 * on the time-skipping server with the scripted activities of test/support/onboarding-fake.ts.
 * `npm run histories:record -- onboarding [scenario…]` records them; the existing ones must keep
 * replaying after every change to the workflow (test/replay/onboarding.replay.test.ts).
 */

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof tenantOnboardingWorkflow>;

interface Scenario {
  name: string;
  tier: TenantOnboardingInput['tier'];
  script: (fake: FakeOnboarding) => void;
  drive: (handle: Handle, fake: FakeOnboarding) => Promise<void>;
}

const settle = (handle: Handle) =>
  handle.result().then(
    () => undefined,
    () => undefined,
  );

async function until(predicate: () => Promise<boolean>): Promise<void> {
  while (!(await predicate())) await new Promise((resolve) => setTimeout(resolve, 20));
}

const awaitingApproval = (handle: Handle) =>
  until(async () => (await handle.query(getOnboardingProgressQuery)).status === 'AWAITING_APPROVAL');

const scenarios: Scenario[] = [
  { name: 'activated', tier: 'professional', script: () => undefined, drive: settle },
  {
    name: 'transient-billing-retry',
    tier: 'free',
    script: (fake) => fake.failTransiently('createBillingCustomer', 2),
    drive: settle,
  },
  {
    name: 'enterprise-approved',
    tier: 'enterprise',
    script: () => undefined,
    drive: async (handle) => {
      await awaitingApproval(handle);
      await handle.executeUpdate(approveOnboardingUpdate, { args: [{ actor: 'platform-admin:1', note: 'ok' }] });
      await settle(handle);
    },
  },
  { name: 'approval-expired', tier: 'enterprise', script: () => undefined, drive: settle },
  {
    name: 'card-declined-compensated',
    tier: 'professional',
    script: (fake) => fake.failPermanently('createBillingSubscription', 'CardDeclined', 'Your card was declined.'),
    drive: settle,
  },
  {
    name: 'cancelled-mid-way',
    tier: 'free',
    script: () => undefined,
    drive: async (handle, fake) => {
      await until(() => Promise.resolve(fake.names().includes('createBillingCustomer')));
      await handle.cancel();
      await settle(handle);
    },
  },
];

export const onboardingRecording: FlowRecording<Scenario> = {
  filePrefix: 'onboarding',
  scenarios,
  async record(scenario, env, bundle) {
    const fake = new FakeOnboarding();
    scenario.script(fake);
    const taskQueue = `record-${scenario.name}`;
    const slug = `history-${scenario.name}`;
    const tenantId = '00000000-0000-5000-8000-000000000001';
    return withRecordingWorker(env, bundle, taskQueue, fake.activities(), async () => {
      const handle = await env.client.workflow.start(tenantOnboardingWorkflow, {
        taskQueue,
        workflowId: tenantOnboardingId(slug),
        args: [
          {
            tenantId,
            slug,
            organizationName: 'History Clinics',
            adminEmail: 'admin@history.test',
            adminName: 'Admin',
            tier: scenario.tier,
            requestedBy: 'platform-admin:1',
          },
        ],
        typedSearchAttributes: [
          { key: TenantIdKey, value: tenantId },
          { key: BusinessKeyKey, value: slug },
          { key: FlowStatusKey, value: 'PROVISIONING' },
        ],
      });
      await scenario.drive(handle, fake);
      return [{ suffix: '', history: await handle.fetchHistory() }];
    });
  },
};
