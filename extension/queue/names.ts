// Queue names, in one place for senders and workers.
export const queues = {
  taskReminders: 'task-reminders',
  jobSla: 'job-sla',
  chatwootDelivery: 'chatwoot-delivery',
  stalledDeliveries: 'chatwoot-stalled-deliveries',
  twilioEvent: 'twilio-event',
  twilioSettle: 'twilio-settle',
  chatwootSync: 'chatwoot-sync',
  notificationDigest: 'notification-digest',
  vendorDocumentAlerts: 'vendor-document-alerts',
  dataRetention: 'data-retention',
} as const;

/** What web code needs of the queue: putting work on it. */
export interface JobSender {
  /** `startAfter`: seconds to wait before the job may run; `singletonKey`: at most one such job queued. */
  send(queue: string, data: object, options?: { startAfter?: number; singletonKey?: string }): Promise<unknown>;
}
