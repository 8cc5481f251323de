// Inviting a contact to the client portal (the sidebar's contact panel).
export const portalInvite = {
  'portalInvite.action': 'Invite to portal',
};
