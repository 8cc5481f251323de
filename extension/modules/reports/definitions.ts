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
  entered: { label: 'Entered', text: 'Times deals moved into the stage (or were created in it) within the date range; a deal that enters a stage twice counts twice, and a deal moved in from another pipeline enters too. A status change that keeps the stage (won, lost or reopened in place) is not an entry.' },
  conversion_next: { label: 'To next stage', text: 'Of the entries counted in Entered, the share whose next move went to a later stage of the same pipeline that is not a lost stage (skipping stages counts; moving back, to a lost stage or to another pipeline does not). Not given for won and lost stages.' },
  conversion_won: { label: 'To won', text: 'Of the entries counted in Entered, the share whose deal is won today.' },
  time_in_stage: { label: 'Time in stage', text: 'From entering the stage to the next move to another stage, for the entries counted in Entered that have left it; median and 90th percentile (interpolated). Deals still in the stage are not measured.' },
  closed_in_range: { label: 'Won / lost in the range', text: 'A deal is won (lost) in the range when its last close within the range — the change that made it won or lost, into a stage of this pipeline — made it won (lost). Each deal counts once, even when it was reopened and closed again in the range; a deal reopened after that close still counts.' },
  win_rate: { label: 'Win rate', text: 'Deals won ÷ deals won or lost in the range (see Won / lost in the range).' },
  velocity: { label: 'Velocity', text: 'The amounts (as they are today) of the deals won in the range, and that sum ÷ days in the range rounded to the currency’s smallest unit, per currency: amounts are never added across currencies; deals without an amount count as won but add nothing.' },
  lost_reasons: { label: 'Lost reasons', text: 'Deals lost in the range, by the reason the deal holds today: "No reason given" when it has none, "Not lost any more" when it was reopened or won since.' },
  cohort: { label: 'Cohort', text: 'Deals created within the range that are in this pipeline today, grouped by the month they were created in (in the report’s time zone): how many, and how many are won, lost and open today.' },
  deal_source: { label: 'Source', text: 'Where a deal came from: chat (created from a Chatwoot conversation), call, portal, automation, api (an API token) or manual (by hand on the board). Owner, source and custom-field filters, and an agent’s own figures, apply to the deal as it is today.' },
  // Overview (the headline figures come from the reports above and follow their definitions)
  deals_won: { label: 'Deals won', text: 'Deals closed as won within the range (all pipelines).' },
  jobs_completed: { label: 'Jobs completed', text: 'Jobs completed within the range.' },
  overview_change: { label: 'Change', text: 'This period minus the previous period of the same length (for rates, in percentage points).' },
  // Speed to first response
  first_response: {
    label: 'First response',
    text: 'Time from the customer’s first public message in a conversation to the first public reply by an agent (a person) at or after it, for conversations linked to a deal or a job whose first customer message falls in the range. Private notes, agent bots, automated and template messages, and the messages Onelink posts itself (notes, customer updates, portal invitations) are not replies. Median and 90th percentile are interpolated over answered conversations; unanswered ones are counted apart.',
  },
  business_hours: { label: 'Business hours', text: 'With business hours on, only time inside the account’s weekly business hours counts towards a response time, using the hours and time zone as they are set now (a change applies to earlier conversations too). The hours are read on the local clock of the account’s report time zone, so they follow clock changes; an hour the clocks skip or repeat inside opening hours (rare: changes happen at night) counts as the clock shows it.' },
  response_bucket: { label: 'Response bucket', text: 'Conversations grouped by their first response: under 5 minutes, under 1 hour, under 1 day, later, or not answered yet.' },
  outcome_win_rate: { label: 'Win rate', text: 'Of the conversations in the bucket linked to a deal that is closed (won or lost) today, the share linked to a won deal.' },
  outcome_completed: { label: 'Jobs completed', text: 'Of the conversations in the bucket linked to a job that is finished (completed or canceled) today, the share linked to a completed job.' },
  // Dispatch
  jobs_created: { label: 'Jobs created', text: 'Jobs created within the range, by where they came from: call, SMS, chat, client portal, pipeline automation or by hand.' },
  time_to_triage: { label: 'Time to triage', text: 'For jobs created in the range: from creation to the first move to triaged (or straight to assigned); count, median and 90th percentile of the jobs that got there.' },
  time_to_assign: { label: 'Time to assign', text: 'For jobs created in the range: from creation to the first assignment to a vendor; count, median and 90th percentile of the jobs that got there.' },
  time_to_complete: { label: 'Time to complete', text: 'For jobs completed in the range (and completed now): from creation to completion (the last completion when it was reopened); median and 90th percentile.' },
  sla_met: { label: 'SLA met', text: 'Of the jobs completed in the range that had an SLA due time, the share completed by that time.' },
  reopened: { label: 'Reopened', text: 'Of the jobs completed in the range, the share that had left completed at least once before (reopened, then completed again).' },
  canceled: { label: 'Canceled', text: 'Jobs canceled within the range (and canceled now), as a share of the jobs finished in the range (completed or canceled).' },
  missed_calls: { label: 'Missed calls', text: 'Inbound calls nobody answered within the range: no answer or hung up while ringing, busy, failed, or a voicemail left. The job filters do not apply to calls.' },
  time_to_call_back: { label: 'Time to call back', text: 'From a missed call to the next outbound call to the same number; median and 90th percentile of the missed calls called back. Missed calls not called back (yet) are counted apart.' },
  // Vendor scorecard
  offers: { label: 'Offers', text: 'Job offers sent to the vendor within the range, and how many of them were accepted, declined, or lapsed (not answered by the answer-by time); withdrawn and still open offers count only as sent. Empty ("no data yet") while the account has sent no offers in the range.' },
  time_to_accept: { label: 'Time to accept', text: 'From an offer being sent to the vendor accepting it, for offers sent in the range; median.' },
  on_time_arrival: { label: 'On time', text: `Of the vendor’s jobs with a window whose first arrival (marked on the way, started, or moved to in progress) fell in the range while the vendor held the job, the share that arrived no later than ${onTimeGraceMinutes} minutes after the window opened.` },
  vendor_jobs_completed: { label: 'Jobs completed', text: 'The vendor’s jobs completed within the range (and completed now).' },
  first_time_completion: { label: 'First-time completion', text: 'Of the vendor’s jobs completed in the range, the share never reopened.' },
  vendor_sla_met: { label: 'SLA met', text: 'Of the vendor’s jobs completed in the range with an SLA due time, the share completed by it.' },
  checklist_completion: { label: 'Checklist done', text: 'Of the checklist items on the vendor’s jobs completed in the range, the share ticked done.' },
  compliance_lapsed: { label: 'Compliance lapsed', text: 'Days within the range on which a kind of the vendor’s approved compliance documents had lapsed: every document of that kind recorded by that day had expired (a document is good up to and including its expiry date; a kind never recorded does not count).' },
  client_blocks: { label: 'Client blocks', text: 'Clients who have blocked this vendor (today).' },
  rank: { label: 'Rank', text: 'Vendors ordered by the mean of the shares they can be measured on (on time, first-time completion, SLA met, checklist done), highest first; ties go to more jobs completed, then fewer compliance days lapsed, then fewer client blocks, then the name. Vendors with none of those shares come last. Vendors with nothing in the range (no offers, arrivals, completions, lapsed days or blocks) are left out.' },
} as const satisfies Record<string, Omit<Definition, 'key'>>;

export type DefinitionKey = keyof typeof definitions;

/** The definitions a report shows, in its order. */
export function definitionsOf(keys: readonly DefinitionKey[]): Definition[] {
  return keys.map((key) => ({ key, ...definitions[key] }));
}
