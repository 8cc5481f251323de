// The address of another dashboard page. It signs in the same way this one did: the Chatwoot
// address and account of this page's URL ride along (they only say where to check the token).
export type AppPage = 'pipeline' | 'dispatch' | 'reports';

export function appUrl(app: AppPage, extra: { [key: string]: string } = {}): string {
  const here = new URLSearchParams(window.location.search);
  const query = new URLSearchParams();
  for (const key of ['chatwoot', 'account']) if (here.get(key)) query.set(key, here.get(key)!);
  for (const [key, value] of Object.entries(extra)) query.set(key, value);
  const search = query.toString();
  return `/apps/${app}/${search ? `?${search}` : ''}`;
}
