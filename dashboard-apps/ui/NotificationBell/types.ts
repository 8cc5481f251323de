// One notification as the bell shows it; the page decides where it leads (`href`) and whether
// that is another page (`newTab`: the apps live in Chatwoot's frames, so other pages open beside).
export interface BellItem {
  id: string;
  title: string;
  body: string;
  created_at: string;
  read_at: string | null;
  urgent: boolean;
  href?: string | null;
  newTab?: boolean;
}

/** The badge: exact up to 99, then "99+". */
export const badgeText = (count: number) => (count > 99 ? '99+' : String(count));
