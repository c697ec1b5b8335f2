import path from 'node:path';
import { recordHistories, type FlowRecording, type RecordingScenario } from '../test/support/history-recording';
import { cleanupRecording } from '../test/support/recording/cleanup-scenarios';
import { eventRecording } from '../test/support/recording/event-scenarios';
import { exportRecording } from '../test/support/recording/export-scenarios';
import { notificationRecording } from '../test/support/recording/notification-scenarios';
import { onboardingRecording } from '../test/support/recording/onboarding-scenarios';
import { orderRecording } from '../test/support/recording/order-scenarios';
import { reminderRecording } from '../test/support/recording/reminder-scenarios';
import { reportRecording } from '../test/support/recording/report-scenarios';
import { waitlistRecording } from '../test/support/recording/waitlist-scenarios';
import { webhookRecording } from '../test/support/recording/webhook-scenarios';

/**
 * Records the replay histories of test/histories/: one workflow run per path through a flow.
 *
 *   npm run histories:record -- <flow> [scenario…] [--out DIR]
 *
 * With no scenario it records those that have no history yet; a recorded history is rewritten only
 * when named, since one recorded with earlier workflow code is what proves such runs still replay.
 * `--out` writes elsewhere, to try a scenario without touching the committed histories.
 */

const flows: Record<string, FlowRecording<RecordingScenario>> = {
  waitlist: waitlistRecording,
  orders: orderRecording,
  onboarding: onboardingRecording,
  events: eventRecording,
  reminders: reminderRecording,
  webhooks: webhookRecording,
  notifications: notificationRecording,
  reports: reportRecording,
  exports: exportRecording,
  cleanup: cleanupRecording,
};

function usage(): string {
  return `usage: npm run histories:record -- <${Object.keys(flows).join('|')}> [scenario…] [--out DIR]`;
}

async function main(argv: string[]): Promise<void> {
  const outAt = argv.indexOf('--out');
  const outDir = outAt >= 0 ? argv[outAt + 1] : undefined;
  const [flow, ...names] = outAt >= 0 ? [...argv.slice(0, outAt), ...argv.slice(outAt + 2)] : argv;
  const recording = flow ? flows[flow] : undefined;
  if (!recording || (outAt >= 0 && !outDir)) {
    console.error(usage());
    process.exitCode = 2;
    return;
  }
  const written = await recordHistories(recording, names, outDir ? path.resolve(outDir) : undefined);
  if (written.length === 0) console.log(`every ${flow} scenario has a history; name one to record it again`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
