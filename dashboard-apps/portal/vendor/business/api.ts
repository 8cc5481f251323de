// The owner's business data, as the server hands it out (GET /portal/vendor/business) and takes it back.
import { portalCall } from '../uploads/request.ts';

export interface Slot { weekday: number; starts: string; ends: string }
export interface TimeOff { id: string; starts_at: string; ends_at: string; reason: string | null }
export interface VendorDocument {
  id: string;
  kind: string;
  reference: string | null;
  expires_on: string | null;
  status: 'pending_review' | 'approved' | 'rejected';
  rejection_reason: string | null;
  url: string | null;
  created_at: string;
}
export interface Business {
  vendor: { id: string; name: string; categories: string[]; postal_codes: string[]; radius_km: number | null; time_zone: string };
  availability: Slot[];
  time_off: TimeOff[];
  locks: { availability: boolean; area: boolean; categories: boolean };
  documents: VendorDocument[];
}

export const loadBusiness = () => portalCall<Business>('GET', '/portal/vendor/business');
export const saveAvailability = (slots: Slot[]) => portalCall<unknown>('PUT', '/portal/vendor/business/availability', { slots });
export const saveArea = (area: { postal_codes: string[]; radius_km: number | null }) => portalCall<unknown>('PUT', '/portal/vendor/business/area', area);
export const saveCategories = (categories: string[]) => portalCall<unknown>('PUT', '/portal/vendor/business/categories', { categories });
export const addTimeOff = (input: { starts_at: string; ends_at: string; reason?: string }) => portalCall<TimeOff>('POST', '/portal/vendor/business/time-off', input);
export const removeTimeOff = (id: string) => portalCall<unknown>('DELETE', `/portal/vendor/business/time-off/${encodeURIComponent(id)}`);
export const uploadDocument = (form: FormData) => portalCall<VendorDocument>('POST', '/portal/vendor/documents', form);

/** "12345, 23456 34567" → ['12345', '23456', '34567'] (trimmed, no blanks, no repeats). */
export function splitList(value: string, separators = /[,;\s]+/) {
  return [...new Set(value.split(separators).map((part) => part.trim()).filter(Boolean))];
}
