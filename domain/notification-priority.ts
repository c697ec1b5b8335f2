/**
 * Notification priorities 1–4 (critical, high, normal, low), by name. One definition for the API, the notification
 * rules and the notification workflow's contract (which maps them onto Temporal priority keys).
 */
export const NotificationPriority = { critical: 1, high: 2, normal: 3, low: 4 } as const;
export type NotificationPriorityName = keyof typeof NotificationPriority;
export type NotificationPriorityLevel = (typeof NotificationPriority)[NotificationPriorityName];
export const DEFAULT_NOTIFICATION_PRIORITY: NotificationPriorityLevel = NotificationPriority.normal;
