import { activityInfo } from '@temporalio/activity';

/** What the ceiling's worker tells the driver, over the child process's IPC channel. */
export type CeilingEvent =
  | { kind: 'offer-sent'; workflowId: string; offer: number; expiresAt: number; at: number }
  | { kind: 'confirmed'; workflowId: string; offer: number; at: number };

/**
 * The ceiling workflow's activities: no-ops named after the waitlist cascade's, so only the engine's work
 * remains. The two that send messages in the real cascade report to the driver instead, which plays the
 * candidates (as the bench's catcher does for the real one).
 */
export function createCeilingActivities(report: (event: CeilingEvent) => void) {
  const workflowId = () => activityInfo().workflowExecution!.workflowId;
  return {
    beginCascade: () => Promise.resolve(),
    offerNextCandidate: (_offer: number, expiresAt: number) => Promise.resolve({ expiresAt }),
    sendOfferNotification: (offer: number, expiresAt: number) => {
      report({ kind: 'offer-sent', workflowId: workflowId(), offer, expiresAt, at: Date.now() });
      return Promise.resolve();
    },
    settleHold: (_offer: number, _outcome: 'DECLINED' | 'EXPIRED') => Promise.resolve(),
    confirmHold: (_offer: number) => Promise.resolve(),
    sendConfirmation: (offer: number) => {
      report({ kind: 'confirmed', workflowId: workflowId(), offer, at: Date.now() });
      return Promise.resolve();
    },
  };
}

export type CeilingActivities = ReturnType<typeof createCeilingActivities>;
