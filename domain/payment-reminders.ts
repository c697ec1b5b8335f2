/**
 * When a delivered order's payment reminders go out. Pure date arithmetic, shared by the routing
 * workflow (which sleeps until each one) and the API (which shows the schedule).
 */

/** The payment reminders an order sends, in the order they go out. */
export const REMINDER_KINDS = ['DUE_SOON', 'OVERDUE', 'FINAL_NOTICE'] as const;
export type ReminderKind = (typeof REMINDER_KINDS)[number];

export interface ScheduledReminder {
  kind: ReminderKind;
  /** 1, 2, … across the whole schedule; part of the reminder's idempotency key. */
  sequence: number;
  /** ISO-8601. */
  at: string;
}

export const DEFAULT_PAYMENT_TERMS_DAYS = 14;
export const DUE_SOON_DAYS_BEFORE = 2;
export const FOLLOW_UP_EVERY_DAYS = 3;
/** The FINAL_NOTICE goes out this many days after the due date; it ends the reminders and flags the retailer. */
export const FINAL_NOTICE_DAYS_AFTER = 14;

const DAY_MS = 24 * 60 * 60 * 1000;

/** The due date of an order delivered at `deliveredAt` on `termsDays` days' terms, ISO-8601. */
export function paymentDueDate(deliveredAt: string, termsDays: number): string {
  return new Date(Date.parse(deliveredAt) + termsDays * DAY_MS).toISOString();
}

/**
 * DUE_SOON two days before the due date, OVERDUE on it and every three days after, then
 * FINAL_NOTICE fourteen days after it. A DUE_SOON that would fall before delivery (terms of two
 * days or less) is left out.
 */
export function paymentReminderSchedule(deliveredAt: string, dueDate: string): ScheduledReminder[] {
  const due = Date.parse(dueDate);
  const times: Array<{ kind: ReminderKind; at: number }> = [];
  if (due - DUE_SOON_DAYS_BEFORE * DAY_MS > Date.parse(deliveredAt)) {
    times.push({ kind: 'DUE_SOON', at: due - DUE_SOON_DAYS_BEFORE * DAY_MS });
  }
  for (let days = 0; days < FINAL_NOTICE_DAYS_AFTER; days += FOLLOW_UP_EVERY_DAYS) {
    times.push({ kind: 'OVERDUE', at: due + days * DAY_MS });
  }
  times.push({ kind: 'FINAL_NOTICE', at: due + FINAL_NOTICE_DAYS_AFTER * DAY_MS });
  return times.map(({ kind, at }, index) => ({ kind, sequence: index + 1, at: new Date(at).toISOString() }));
}
