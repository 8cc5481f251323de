// English for the owner's team page.
import { addEnglish, t } from '../../../i18n/index.ts';

export const teamText = {
  'portal.team.title': 'Your team',
  'portal.team.loadFailed': 'Your team could not be loaded.',
  'portal.team.retry': 'Try again',
  'portal.team.owner': 'Owner',
  'portal.team.technician': 'Technician',
  'portal.team.active': 'Active',
  'portal.team.inactive': 'Deactivated',
  'portal.team.you': 'You',
  'portal.team.deactivate': 'Deactivate',
  'portal.team.activate': 'Activate',
  'portal.team.deactivateTitle': 'Deactivate {name}?',
  'portal.team.deactivateEffect': 'They are signed out on every device and cannot sign in until you activate them again.',
  'portal.team.cancel': 'Cancel',
  'portal.team.sessions': 'Devices',
  'portal.team.hideSessions': 'Hide devices',
  'portal.team.noSessions': 'Not signed in on any device.',
  'portal.team.lastUsed': 'last used ',
  'portal.team.signOut': 'Sign out',
  'portal.team.signOutOf': 'Sign {name} out of {device}',
  'portal.team.signedOut': 'Signed out',
  'portal.team.unknownDevice': 'Unknown device',
  'portal.team.invite': 'Invite a technician',
  'portal.team.name': 'Name',
  'portal.team.email': 'E-mail',
  'portal.team.phone': 'Phone',
  'portal.team.contactHint': 'Give an e-mail address or a phone number: the sign-in code is sent there.',
  'portal.team.needContact': 'Give an e-mail address or a phone number.',
  'portal.team.sendInvite': 'Send invitation',
  'portal.team.invited': '{name} is invited: a sign-in code was sent.',
  'portal.team.invitedNotSent': '{name} is added, but the sign-in code could not be sent ({reason}).',
  'portal.team.failed': 'Not done: {reason}',
  'portal.team.offline': 'No connection: try again when you have signal.',
} as const;

addEnglish(teamText);

export const say = (key: keyof typeof teamText, values?: Record<string, string | number>) => t(key, values);

/** "Chrome on Android" from a user agent, roughly; enough to tell a person's devices apart. */
export function deviceName(userAgent: string | null) {
  if (!userAgent) return say('portal.team.unknownDevice');
  const browser = /Edg\//.test(userAgent) ? 'Edge' : /Firefox\//.test(userAgent) ? 'Firefox' : /Chrom(e|ium)\//.test(userAgent) ? 'Chrome' : /Safari\//.test(userAgent) ? 'Safari' : null;
  const system = /Android/.test(userAgent) ? 'Android' : /iPhone|iPad/.test(userAgent) ? 'iOS' : /Windows/.test(userAgent) ? 'Windows' : /Mac OS X/.test(userAgent) ? 'macOS' : /Linux/.test(userAgent) ? 'Linux' : null;
  if (browser && system) return `${browser} · ${system}`;
  return browser ?? system ?? say('portal.team.unknownDevice');
}
