// Vendors as the dispatch board sees them: the documents vendors sent that wait for review
// (approve, or reject with a reason), the roster with each vendor's compliance and what staff
// locked against the vendor's own edits, and a vendor's documents on demand.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api, errorMessage, unwrap } from '../../lib/api.ts';
import { t } from '../../i18n/index.ts';

export type DocumentStatus = 'pending_review' | 'approved' | 'rejected';
export interface VendorDocument {
  id: string;
  vendor_id: string;
  /** Only in the review queue. */
  vendor_name?: string;
  kind: string;
  reference: string | null;
  expires_on: string | null;
  status: DocumentStatus;
  rejection_reason: string | null;
  filename: string | null;
  content_type: string | null;
  url: string | null;
  created_at: string;
}
export type LockField = 'availability' | 'area' | 'categories';
export const lockFields: readonly LockField[] = ['availability', 'area', 'categories'];
export type Locks = Record<LockField, boolean>;
export type Compliance = 'compliant' | 'expiring' | 'expired' | 'missing';
export interface RosterVendor { id: string; name: string; categories: string[]; active: boolean; compliance: Compliance; locked_fields: LockField[] }

export const locksOf = (vendor: Pick<RosterVendor, 'locked_fields'>): Locks => ({
  availability: vendor.locked_fields.includes('availability'),
  area: vendor.locked_fields.includes('area'),
  categories: vendor.locked_fields.includes('categories'),
});

export const useVendorReview = defineStore('dispatch-vendor-review', () => {
  const toReview = ref<VendorDocument[]>([]);
  const vendors = ref<RosterVendor[]>([]);
  const documents = ref<Record<string, VendorDocument[]>>({});
  const error = ref<string | null>(null);
  const fail = (err: unknown) => (error.value = errorMessage(err, t('common.unreachable')));

  /** The review queue. Quietly empty where the caller may not read vendors. */
  async function loadToReview() {
    try {
      toReview.value = (await unwrap<VendorDocument[]>(api.GET('/api/v1/vendor-documents/to-review'))).data;
    } catch {
      toReview.value = [];
    }
  }

  async function loadVendors() {
    try {
      vendors.value = (await unwrap<RosterVendor[]>(api.GET('/api/v1/vendors', { params: { query: { limit: 100 } } }))).data;
      error.value = null;
    } catch (err) {
      fail(err);
    }
  }

  async function loadDocuments(vendorId: string) {
    try {
      documents.value = { ...documents.value, [vendorId]: (await unwrap<VendorDocument[]>(api.GET('/api/v1/vendors/{vendorId}/documents', { params: { path: { vendorId } } }))).data };
    } catch (err) {
      fail(err);
    }
  }

  /** Approves or rejects a document; true when done. The queue, the vendor's compliance and documents follow. */
  async function review(doc: VendorDocument, decision: 'approve' | 'reject', reason?: string) {
    try {
      await unwrap(api.POST('/api/v1/vendors/{vendorId}/documents/{documentId}/review', { params: { path: { vendorId: doc.vendor_id, documentId: doc.id } }, body: { decision, reason: reason ?? null } }));
      error.value = null;
      toReview.value = toReview.value.filter((d) => d.id !== doc.id);
      await Promise.all([loadVendors(), doc.vendor_id in documents.value ? loadDocuments(doc.vendor_id) : undefined]);
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  async function setLock(vendor: RosterVendor, field: LockField, locked: boolean) {
    try {
      const locks = (await unwrap<Locks>(api.PUT('/api/v1/vendors/{vendorId}/locks', { params: { path: { vendorId: vendor.id } }, body: { [field]: locked } }))).data;
      error.value = null;
      vendors.value = vendors.value.map((v) => (v.id === vendor.id ? { ...v, locked_fields: lockFields.filter((f) => locks[f]) } : v));
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  return { toReview, vendors, documents, error, loadToReview, loadVendors, loadDocuments, review, setLock };
});
