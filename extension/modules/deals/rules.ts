// Deal status as a state machine, kept as data. Stage kind and status stay in step: a deal in a
// won stage is won, in a lost stage is lost, in an open stage is open.
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

/** ISO 4217 codes we accept for amounts (the currencies Intl knows). */
const currencies = new Set(Intl.supportedValuesOf('currency'));
export function isCurrency(code: string) {
  return currencies.has(code);
}

export function dealReference(number: number) {
  return `D-${number}`;
}
