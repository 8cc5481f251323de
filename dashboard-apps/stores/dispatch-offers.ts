// Job offers as the dispatch board sees them: the account's offers in flight, the open job's offer
// history, making and withdrawing offers (and answering for a vendor), and the account's offer
// settings. A refused offer because another is open keeps the server's details (who holds the job,
// until when), so the board can say so and offer to withdraw it.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api, ApiError, errorMessage, unwrap } from '../lib/api.ts';
import { t } from '../i18n/index.ts';

export type OfferStatus = 'open' | 'accepted' | 'declined' | 'lapsed' | 'withdrawn';
export interface Offer {
  id: string;
  job_id: string;
  vendor_id: string;
  vendor_name: string;
  status: OfferStatus;
  answer_by: string;
  decline_reason: string | null;
  answered_at: string | null;
  created_at: string;
  compliance_override_reason: string | null;
  job: { id: string; reference: string; summary: string; status: string; priority: string };
}
export interface OfferSettings { offer_answer_minutes: number; offer_next_automatically: boolean }
/** Why an offer was refused because the job is already offered: who holds it and until when. */
export interface OfferHeld { job_id: string; offer_id: string | null; vendor_id: string; answer_by: string; message: string }

export const useDispatchOffers = defineStore('dispatch-offers', () => {
  const inFlight = ref<Offer[]>([]);
  const jobOffers = ref<Offer[]>([]);
  const jobId = ref<string | null>(null);
  const held = ref<OfferHeld | null>(null);
  const settings = ref<OfferSettings | null>(null);
  const error = ref<string | null>(null);
  const fail = (err: unknown) => (error.value = errorMessage(err, t('common.unreachable')));

  /** The offers in flight, soonest deadline first. Quietly empty where offers are not in use. */
  async function loadInFlight() {
    try {
      inFlight.value = (await unwrap<Offer[]>(api.GET('/api/v1/offers', { params: { query: { status: 'open', limit: 100 } } }))).data;
    } catch {
      inFlight.value = [];
    }
  }

  async function loadJob(id: string) {
    if (jobId.value !== id) {
      jobOffers.value = [];
      held.value = null;
    }
    jobId.value = id;
    try {
      const offers = (await unwrap<Offer[]>(api.GET('/api/v1/jobs/{jobId}/offers', { params: { path: { jobId: id } } }))).data;
      if (jobId.value === id) jobOffers.value = offers;
      // The offer that held the job is gone (withdrawn, answered, lapsed): nothing to explain any more.
      if (held.value && !offers.some((o) => o.status === 'open' && o.vendor_id === held.value?.vendor_id)) held.value = null;
    } catch {
      if (jobId.value === id) jobOffers.value = [];
    }
  }

  async function refresh() {
    await Promise.all([loadInFlight(), jobId.value ? loadJob(jobId.value) : undefined]);
  }

  async function act(work: () => Promise<unknown>) {
    try {
      await work();
      error.value = null;
      await refresh();
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  /** Offers the job to a vendor: 'offered', 'held' (another offer is open: see `held`) or 'failed' (see `error`). */
  async function offer(forJob: string, vendorId: string, overrideReason?: string): Promise<'offered' | 'held' | 'failed'> {
    held.value = null;
    try {
      await unwrap(api.POST('/api/v1/jobs/{jobId}/offers', { params: { path: { jobId: forJob } }, body: { vendor_id: vendorId, compliance_override_reason: overrideReason || undefined } }));
      error.value = null;
      await refresh();
      return 'offered';
    } catch (err) {
      if (err instanceof ApiError && err.code === 'offer_open') {
        const details = (err.details ?? {}) as { offer_id?: string; vendor_id?: string; answer_by?: string };
        held.value = { job_id: forJob, offer_id: details.offer_id ?? null, vendor_id: details.vendor_id ?? '', answer_by: details.answer_by ?? '', message: err.message };
        error.value = null;
        await refresh();
        return 'held';
      }
      fail(err);
      return 'failed';
    }
  }

  async function loadSettings() {
    try {
      settings.value = (await unwrap<OfferSettings>(api.GET('/api/v1/dispatch/offer-settings'))).data;
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  async function saveSettings(next: OfferSettings) {
    try {
      settings.value = (await unwrap<OfferSettings>(api.PATCH('/api/v1/dispatch/offer-settings', { body: next }))).data;
      error.value = null;
      return true;
    } catch (err) {
      fail(err);
      return false;
    }
  }

  return {
    inFlight,
    jobOffers,
    held,
    settings,
    error,
    loadInFlight,
    loadJob,
    refresh,
    offer,
    withdraw: (offerId: string) => act(() => unwrap(api.POST('/api/v1/offers/{offerId}/withdraw', { params: { path: { offerId } }, body: {} }))),
    accept: (offerId: string) => act(() => unwrap(api.POST('/api/v1/offers/{offerId}/accept', { params: { path: { offerId } } }))),
    decline: (offerId: string, reason: string) => act(() => unwrap(api.POST('/api/v1/offers/{offerId}/decline', { params: { path: { offerId } }, body: { reason } }))),
    loadSettings,
    saveSettings,
  };
});
