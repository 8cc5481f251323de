// The pipeline an account starts with, chosen by its field packs (capabilities), not its profile name.
import type { Capability } from '../../capabilities/profiles.ts';

export interface StageTemplate { name: string; kind: 'open' | 'won' | 'lost'; win_probability: number }
export interface PipelineTemplate { name: string; stages: StageTemplate[] }

const sales: PipelineTemplate = {
  name: 'Sales',
  stages: [
    { name: 'Lead', kind: 'open', win_probability: 10 },
    { name: 'Qualified', kind: 'open', win_probability: 30 },
    { name: 'Proposal', kind: 'open', win_probability: 60 },
    { name: 'Negotiation', kind: 'open', win_probability: 80 },
    { name: 'Won', kind: 'won', win_probability: 100 },
    { name: 'Lost', kind: 'lost', win_probability: 0 },
  ],
};

const construction: PipelineTemplate = {
  name: 'Projects',
  stages: [
    { name: 'Lead', kind: 'open', win_probability: 10 },
    { name: 'Site visit', kind: 'open', win_probability: 30 },
    { name: 'Quote sent', kind: 'open', win_probability: 50 },
    { name: 'Scheduled', kind: 'open', win_probability: 80 },
    { name: 'In progress', kind: 'open', win_probability: 90 },
    { name: 'Completed', kind: 'won', win_probability: 100 },
    { name: 'Lost', kind: 'lost', win_probability: 0 },
  ],
};

const healthcare: PipelineTemplate = {
  name: 'Referrals',
  stages: [
    { name: 'Referral', kind: 'open', win_probability: 20 },
    { name: 'Intake', kind: 'open', win_probability: 40 },
    { name: 'Scheduled', kind: 'open', win_probability: 70 },
    { name: 'In care', kind: 'open', win_probability: 90 },
    { name: 'Discharged', kind: 'won', win_probability: 100 },
    { name: 'Declined', kind: 'lost', win_probability: 0 },
  ],
};

export function defaultPipeline(capabilities: ReadonlySet<Capability>): PipelineTemplate {
  if (capabilities.has('fields.construction')) return construction;
  if (capabilities.has('fields.healthcare')) return healthcare;
  return sales;
}
