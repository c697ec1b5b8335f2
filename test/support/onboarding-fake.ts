import { activityInfo, cancelled } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { OnboardingActivities } from '../../activities/onboarding';

export type OnboardingActivityName = keyof OnboardingActivities;

/** How one invocation of an activity behaves; anything not scripted succeeds. */
type Behaviour =
  | { kind: 'permanent'; type: string; message: string }
  | { kind: 'transient'; message: string }
  | { kind: 'block'; released: Promise<void>; onStart: () => void };

export interface Blocked {
  /** Resolves once the activity has been entered. */
  started: Promise<void>;
  release(): void;
}

/**
 * The onboarding activities as scripted test doubles: every invocation (retries included) is
 * recorded in order with its input, and any activity can be made to fail permanently or
 * transiently, or to block until released. Permanent failures report their attempt in
 * `details` as the real activities do.
 */
export class FakeOnboarding {
  readonly calls: Array<{ name: OnboardingActivityName; input: unknown }> = [];
  private readonly scripts = new Map<OnboardingActivityName, Array<{ behaviour: Behaviour; remaining: number }>>();

  /** The activity fails for good (non-retryable `type`) from its next invocation on. */
  failPermanently(name: OnboardingActivityName, type = 'ProviderRejected', message = `${name} refused`): this {
    return this.script(name, { kind: 'permanent', type, message }, Infinity);
  }

  /** The next `times` invocations fail with a retryable error. */
  failTransiently(name: OnboardingActivityName, times: number, message = `${name} unavailable`): this {
    return this.script(name, { kind: 'transient', message }, times);
  }

  /** The next invocation waits until released. */
  block(name: OnboardingActivityName): Blocked {
    let release!: () => void;
    let onStart!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const started = new Promise<void>((resolve) => (onStart = resolve));
    this.script(name, { kind: 'block', released, onStart }, 1);
    return { started, release };
  }

  /** The names of every invocation so far, in order. */
  names(): OnboardingActivityName[] {
    return this.calls.map((call) => call.name);
  }

  /** The input of the first invocation of `name`. */
  inputOf<N extends OnboardingActivityName>(name: N): Parameters<OnboardingActivities[N]>[0] {
    const call = this.calls.find((entry) => entry.name === name);
    if (!call) throw new Error(`${name} was never called`);
    return call.input as Parameters<OnboardingActivities[N]>[0];
  }

  private script(name: OnboardingActivityName, behaviour: Behaviour, times: number): this {
    this.scripts.set(name, [...(this.scripts.get(name) ?? []), { behaviour, remaining: times }]);
    return this;
  }

  private async run<T>(name: OnboardingActivityName, input: unknown, success: () => T): Promise<T> {
    this.calls.push({ name, input });
    const queue = this.scripts.get(name) ?? [];
    const next = queue[0];
    if (next && --next.remaining <= 0) queue.shift();
    const behaviour = next?.behaviour;
    if (behaviour?.kind === 'permanent') {
      throw ApplicationFailure.create({
        type: behaviour.type,
        message: behaviour.message,
        nonRetryable: true,
        details: [{ attempt: activityInfo().attempt }],
      });
    }
    if (behaviour?.kind === 'transient') throw new Error(behaviour.message);
    if (behaviour?.kind === 'block') {
      behaviour.onStart();
      // Honour cancellation, so a worker shutting down at the end of a test never waits on a block.
      await Promise.race([behaviour.released, cancelled()]);
    }
    return success();
  }

  /** The activities, typed as the worker registers them. */
  activities(): OnboardingActivities {
    const attempt = () => activityInfo().attempt;
    return {
      reserveTenant: (input) => this.run('reserveTenant', input, () => ({ attempt: attempt() })),
      createAdminUser: (input) => this.run('createAdminUser', input, () => ({ userId: 'user-1', attempt: attempt() })),
      createBillingCustomer: (input) =>
        this.run('createBillingCustomer', input, () => ({ customerId: 'cus_1', attempt: attempt() })),
      createBillingSubscription: (input) =>
        this.run('createBillingSubscription', input, () => ({ subscriptionId: 'sub_1', attempt: attempt() })),
      provisionTenantDefaults: (input) => this.run('provisionTenantDefaults', input, () => ({ attempt: attempt() })),
      sendWelcomeEmail: (input) =>
        this.run('sendWelcomeEmail', input, () => ({
          notificationId: 'notification-1',
          delivery: 'SENT' as const,
          attempt: attempt(),
        })),
      activateTenant: (input) =>
        this.run('activateTenant', input, () => ({ activatedAt: new Date().toISOString(), attempt: attempt() })),
      recordApprovalDecision: (input) => this.run('recordApprovalDecision', input, () => undefined),
      cancelBillingSubscription: (input) => this.run('cancelBillingSubscription', input, () => 'removed' as const),
      deleteBillingCustomer: (input) => this.run('deleteBillingCustomer', input, () => 'removed' as const),
      disableAdminUser: (input) => this.run('disableAdminUser', input, () => undefined),
      markTenantFailed: (input) => this.run('markTenantFailed', input, () => undefined),
      notifyOnboardingUnsuccessful: (input) =>
        this.run('notifyOnboardingUnsuccessful', input, () => ({
          notificationId: 'notification-2',
          status: 'SENT' as const,
          providerId: null,
        })),
    };
  }
}
