// English: the bell's list (loaded with the list, the first time the bell opens).
export const bell = {
  'bell.title': 'Notifications',
  'bell.markAllRead': 'Mark all read',
  'bell.settings': 'Notification settings',
  'bell.empty': 'No notifications yet',
  'bell.emptyHint': 'Jobs put in your hands, missed calls and tasks coming due show up here.',
  'bell.allRead': 'You are all caught up',
  'bell.loadMore': 'Load more',
  'bell.retry': 'Try again',
  'bell.urgent': 'Urgent',
  'bell.unread': 'Unread',
  'bell.newTab': '(opens in a new tab)',
  'bell.list': 'Notifications, newest first',
} as const;
