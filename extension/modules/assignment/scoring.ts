// Assignment engine v1, the rules: which vendors may take a job, and how the rest are ranked.
// Pure functions over facts gathered in one query (service.ts), so every score can be explained
// and tested without a database. Points add up to at most 100:
//   distance     30  closer is better (inside the vendor's own radius), 15 for a postal-code match
//   workload     25  fewer open jobs is better (0 open → 25, 10 or more → 0)
//   preference   25  the client's preferred vendor 25, approved 12
//   category fit 20  a specialist (one category) 20, two or three 15, more 10
import type { ComplianceState, VendorRelation } from '../vendors/service.ts';

export interface VendorFacts {
  vendor_id: string;
  name: string;
  categories: string[];
  compliance: ComplianceState;
  relation: VendorRelation | null;
  open_jobs: number;
  /** Kilometres from the vendor's base to the job, when both have coordinates. */
  distance_km: number | null;
  radius_km: number | null;
  postal_match: boolean;
  /** The vendor declared no service area: not restricted. */
  area_unrestricted: boolean;
  /** null when the job has no requested window (not checked). */
  available: boolean | null;
  has_hours: boolean;
}

export type ExclusionReason = 'outside_area' | 'unavailable' | 'blocked_by_client' | 'compliance_expired' | 'compliance_missing';

export interface ScorePart { points: number; max: number; why: string }
export interface Score {
  total: number;
  distance: ScorePart;
  workload: ScorePart;
  preference: ScorePart;
  category_fit: ScorePart;
}

export function exclusions(f: VendorFacts): ExclusionReason[] {
  const reasons: ExclusionReason[] = [];
  const covered = f.area_unrestricted || f.postal_match || (f.distance_km !== null && f.radius_km !== null && f.distance_km <= f.radius_km);
  if (!covered) reasons.push('outside_area');
  if (f.available === false) reasons.push('unavailable');
  if (f.relation === 'blocked') reasons.push('blocked_by_client');
  if (f.compliance === 'expired') reasons.push('compliance_expired');
  if (f.compliance === 'missing') reasons.push('compliance_missing');
  return reasons;
}

const round = (n: number) => Math.round(n * 10) / 10;

export function score(f: VendorFacts): Score {
  let distance: ScorePart;
  if (f.distance_km !== null && f.radius_km !== null && f.distance_km <= f.radius_km) {
    distance = { points: round(30 * (1 - f.distance_km / f.radius_km)), max: 30, why: `${round(f.distance_km)} km away, within a ${round(f.radius_km)} km radius` };
  } else if (f.postal_match) {
    distance = { points: 15, max: 30, why: 'serves the job’s postal code' };
  } else if (f.distance_km !== null) {
    distance = { points: 0, max: 30, why: `${round(f.distance_km)} km away; no service area set` };
  } else {
    distance = { points: 0, max: 30, why: 'distance unknown (no coordinates)' };
  }
  const load = Math.min(f.open_jobs, 10);
  const workload = { points: round(25 * (1 - load / 10)), max: 25, why: `${f.open_jobs} open job${f.open_jobs === 1 ? '' : 's'}` };
  const preference =
    f.relation === 'preferred'
      ? { points: 25, max: 25, why: 'the client’s preferred vendor' }
      : f.relation === 'approved'
        ? { points: 12, max: 25, why: 'approved by the client' }
        : { points: 0, max: 25, why: 'no client preference' };
  const n = f.categories.length;
  const categoryFit = { points: n <= 1 ? 20 : n <= 3 ? 15 : 10, max: 20, why: n <= 1 ? 'specialist in this category' : `offers ${n} categories` };
  return {
    total: round(distance.points + workload.points + preference.points + categoryFit.points),
    distance,
    workload,
    preference,
    category_fit: categoryFit,
  };
}

export interface Ranked { vendor_id: string; name: string; compliance: ComplianceState; score: Score; availability: string }

/** Eligible vendors, best first (ties: fewer open jobs, then name); the rest with their reasons. */
export function rank(facts: VendorFacts[]) {
  const candidates: Array<Ranked & { open_jobs: number }> = [];
  const excluded: Array<{ vendor_id: string; name: string; reasons: ExclusionReason[] }> = [];
  for (const f of facts) {
    const reasons = exclusions(f);
    if (reasons.length) {
      excluded.push({ vendor_id: f.vendor_id, name: f.name, reasons });
      continue;
    }
    const availability = f.available === null ? 'no window requested' : f.has_hours ? 'within their hours' : 'no weekly hours set';
    candidates.push({ vendor_id: f.vendor_id, name: f.name, compliance: f.compliance, score: score(f), availability, open_jobs: f.open_jobs });
  }
  candidates.sort((a, b) => b.score.total - a.score.total || a.open_jobs - b.open_jobs || a.name.localeCompare(b.name));
  return { candidates: candidates.map(({ open_jobs: _o, ...c }) => c), excluded };
}
