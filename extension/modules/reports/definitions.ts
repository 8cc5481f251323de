// Every figure's definition, in one place: the reports compute by these words and show them next to
// each number (the API sends them with every report, the Reports app prints them beside the
// figure). Change a rule here and in the report's query together; the tests hold both to the text.

export interface Definition {
  key: string;
  label: string;
  text: string;
}

/** Response-time buckets, in seconds (upper bounds, exclusive); anything slower is "later". */
export const responseBuckets = [
  { key: 'under_5m', label: '< 5 min', below: 5 * 60 },
  { key: 'under_1h', label: '< 1 hour', below: 60 * 60 },
  { key: 'under_1d', label: '< 1 day', below: 24 * 60 * 60 },
  { key: 'later', label: 'Later', below: Number.POSITIVE_INFINITY },
] as const;

/** How late a vendor may arrive (on the way or started after the window opened) and still be on time. */
export const onTimeGraceMinutes = 15;

export const definitions = {
  // Pipeline funnel
  entered: { label: 'Entered', text: 'Deals that moved into the stage (or were created in it) within the date range. A deal that enters a stage twice counts twice.' },
  conversion_next: { label: 'To next stage', text: 'Of the deals that entered this stage in the range, the share whose next move went to a later stage of the pipeline (skipping stages counts).' },
  conversion_won: { label: 'To won', text: 'Of the deals that entered this stage in the range, the share that are won today.' },
  win_rate: { label: 'Win rate', text: 'Deals won ÷ deals closed (won or lost), among deals closed within the range.' },
  time_in_stage: { label: 'Time in stage', text: 'From entering the stage to leaving it, for visits that began in the range and have ended; median and 90th percentile.' },
  velocity: { label: 'Velocity', text: 'Amount of deals won in the range ÷ days in the range, per currency (amounts are never added across currencies).' },
  lost_reasons: { label: 'Lost reasons', text: 'Deals lost in the range, by the reason given when they were lost ("No reason given" when none was).' },
  cohort: { label: 'Cohort', text: 'Deals grouped by the month they were created (in the report’s time zone): how many, how many are won and lost today.' },
  // Speed to first response
  first_response: {
    label: 'First response',
    text: 'Time from the customer’s first public message in a conversation to the first public reply by an agent after it. Private notes, bots’ automated messages and Onelink’s own notes do not count. Only conversations linked to a deal or a job are measured.',
  },
  business_hours: { label: 'Business hours', text: 'With business hours on, only time inside the account’s business hours counts towards a response time.' },
  response_bucket: { label: 'Response bucket', text: 'First responses grouped as under 5 minutes, under 1 hour, under 1 day, or later.' },
  outcome_win_rate: { label: 'Win rate', text: 'Of the conversations in the bucket linked to a deal that is closed, the share whose deal is won.' },
  outcome_completed: { label: 'Jobs completed', text: 'Of the conversations in the bucket linked to a job that is finished (completed or canceled), the share whose job is completed.' },
  // Dispatch
  jobs_created: { label: 'Jobs created', text: 'Jobs created within the range, by where they came from: call, SMS, chat, client portal, pipeline automation or by hand.' },
  time_to_triage: { label: 'Time to triage', text: 'From a job’s creation to its first move to triaged (or straight to assigned); median and 90th percentile.' },
  time_to_assign: { label: 'Time to assign', text: 'From a job’s creation to its first assignment to a vendor; median and 90th percentile.' },
  time_to_complete: { label: 'Time to complete', text: 'From a job’s creation to its completion (the last completion when it was reopened); median and 90th percentile.' },
  sla_met: { label: 'SLA met', text: 'Of the jobs completed in the range that had an SLA due time, the share completed by that time.' },
  reopened: { label: 'Reopened', text: 'Of the jobs completed in the range, the share that left completed again at least once.' },
  missed_calls: { label: 'Missed calls', text: 'Inbound calls not answered (no answer, busy, failed or cancelled) within the range.' },
  time_to_call_back: { label: 'Time to call back', text: 'From a missed call to the next outbound call to the same number; median and 90th percentile. Missed calls never called back are counted apart.' },
  // Vendor scorecard
  offers: { label: 'Offers', text: 'Job offers sent to the vendor within the range: how many were accepted, declined, or lapsed.' },
  time_to_accept: { label: 'Time to accept', text: 'From an offer being sent to the vendor accepting it; median.' },
  on_time_arrival: { label: 'On time', text: `Of the vendor’s jobs with a window that were started or marked on the way in the range, the share that did so no later than ${onTimeGraceMinutes} minutes after the window opened.` },
  first_time_completion: { label: 'First-time completion', text: 'Of the vendor’s jobs completed in the range, the share never reopened.' },
  vendor_sla_met: { label: 'SLA met', text: 'Of the vendor’s jobs completed in the range with an SLA due time, the share completed by it.' },
  checklist_completion: { label: 'Checklist done', text: 'Of the checklist items on the vendor’s jobs completed in the range, the share ticked done.' },
  compliance_lapsed: { label: 'Compliance lapsed', text: 'Days within the range on which at least one of the vendor’s required documents had expired.' },
  client_blocks: { label: 'Client blocks', text: 'Clients who have blocked this vendor (today).' },
} as const satisfies Record<string, Omit<Definition, 'key'>>;

export type DefinitionKey = keyof typeof definitions;

/** The definitions a report shows, in its order. */
export function definitionsOf(keys: readonly DefinitionKey[]): Definition[] {
  return keys.map((key) => ({ key, ...definitions[key] }));
}
