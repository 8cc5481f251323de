// Deal status as a state machine, kept as data. Stage kind and status stay in step: a deal in a
// won stage is won, in a lost stage is lost, in an open stage is open. The service changes a
// deal's status only after these rules said yes: `dealTransitions` for the win/lose/reopen
// buttons, `lostReasonAfterMove` for a card moved into a stage of another kind.
import { InvalidFieldsError } from '../../errors.ts';

export const dealStatuses = ['open', 'won', 'lost'] as const;
export type DealStatus = (typeof dealStatuses)[number];

export const dealTransitions: Record<DealStatus, readonly DealStatus[]> = {
  open: ['won', 'lost'],
  won: ['open'],
  lost: ['open'],
};

export function canTransition(from: DealStatus, to: DealStatus) {
  return dealTransitions[from].includes(to);
}

/** Refused when a deal becomes lost without saying why (the field is `lost_reason` wherever it comes from). */
export const lostReasonMissing = () =>
  new InvalidFieldsError('Say why the deal was lost', [{ field: 'lost_reason', message: 'Required when marking a deal lost', code: 'required' }]);

/**
 * A card moved into a stage takes the stage's kind as its status, from any status: the board is
 * where people fix a card in the wrong column. Becoming lost needs a reason (a deal already lost
 * keeps its own unless a new one is given); any other status carries none. Returns the reason the
 * deal holds after the move, or throws.
 */
export function lostReasonAfterMove(from: DealStatus, to: DealStatus, given: string | null | undefined, kept: string | null): string | null {
  if (to !== 'lost') return null;
  if (given) return given;
  if (from === 'lost' && kept) return kept;
  throw lostReasonMissing();
}

/** ISO 4217 codes we accept for amounts (the currencies Intl knows). */
const currencies = new Set(Intl.supportedValuesOf('currency'));
export function isCurrency(code: string) {
  return currencies.has(code);
}

/** Where a deal came from (the funnel filters by it). */
export const dealSources = ['manual', 'chat', 'call', 'portal', 'automation', 'api'] as const;
export type DealSource = (typeof dealSources)[number];

/**
 * The source of a new deal nobody named: a linked conversation means it came from a chat; otherwise
 * who created it (an API token, Onelink's own automation, a portal user, a person on the board).
 */
export function inferredDealSource(actorType: string, conversationId: number | null | undefined): DealSource {
  if (conversationId) return 'chat';
  return ({ service: 'api', system: 'automation', portal_user: 'portal' } as Record<string, DealSource>)[actorType] ?? 'manual';
}

export function dealReference(number: number) {
  return `D-${number}`;
}
