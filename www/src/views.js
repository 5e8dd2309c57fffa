// The dashboard's vocabulary: tiers of the metrics hierarchy, views by stakeholder and what each
// view shows beyond its KPI cards. Plain data, no DOM.

export const TIERS = [
  { id: 'north_star', title: 'North star', blurb: 'The one number that sums up the value delivered' },
  { id: 'core', title: 'Core', blurb: 'What the business is run by, reviewed every week' },
  { id: 'supporting', title: 'Supporting', blurb: 'Explain the movements of the core metrics' },
  { id: 'guardrail', title: 'Guardrails', blurb: 'Must not get worse while the others improve' },
  { id: 'custom', title: 'Yours', blurb: 'The metrics you defined (below)' },
];

export const STAKEHOLDER_WORDS = {
  consumers: 'consumers',
  merchants: 'merchants',
  platform: 'the platform',
  financial_institutions: 'banks and card issuers',
  regulators: 'regulators',
};

export const GOOD_WORDS = { up: 'Higher is better', down: 'Lower is better', neutral: 'Neither direction is better in itself' };

/** Names of the dimension roles of `breakdowns` (docs/report.md). */
export const DIMENSION_TITLES = {
  channel: 'Channel',
  funding_source: 'Funding source',
  type: 'Transaction type',
  region: 'Region',
  kyc: 'KYC level',
};

const ALL_SECTIONS = ['funding', 'regulators', 'series', 'guardrails', 'mix', 'funnel', 'retention', 'declines', 'histograms'];

/**
 * Each view: the stakeholder whose metrics it shows (null: every metric), the sections it shows,
 * which breakdowns (null: all) and which histograms.
 */
export const VIEWS = [
  {
    id: 'all',
    primary: 'tpv',
    label: 'All',
    stakeholder: null,
    blurb: 'Every metric of the hierarchy, for the whole team.',
    sections: ALL_SECTIONS.filter((s) => s !== 'funding' && s !== 'regulators'),
    dimensions: null,
    histograms: null,
  },
  {
    id: 'consumers',
    primary: 'active_payers',
    label: 'Consumers',
    stakeholder: 'consumers',
    blurb: 'Can people pay, quickly and safely — and do they come back?',
    sections: ['series', 'funnel', 'retention', 'guardrails', 'mix', 'histograms'],
    dimensions: ['channel', 'funding_source'],
    histograms: ['ticket', 'latency'],
  },
  {
    id: 'merchants',
    primary: 'tpv',
    label: 'Merchants',
    stakeholder: 'merchants',
    blurb: 'Volume, acceptance, ticket sizes, settlement speed and disputes.',
    sections: ['series', 'guardrails', 'mix', 'declines', 'histograms'],
    dimensions: ['channel', 'type', 'region'],
    histograms: ['ticket'],
  },
  {
    id: 'platform',
    primary: 'tpv',
    label: 'Platform',
    stakeholder: 'platform',
    blurb: 'Growth, revenue, take rate and merchant concentration.',
    sections: ['series', 'guardrails', 'mix', 'funnel', 'retention'],
    dimensions: null,
    histograms: [],
  },
  {
    id: 'financial_institutions',
    primary: 'success_rate',
    label: 'Banks & issuers',
    stakeholder: 'financial_institutions',
    blurb: 'Success rate and volume by funding source, latency, declines, fraud and disputes.',
    sections: ['funding', 'series', 'declines', 'guardrails', 'histograms'],
    dimensions: ['funding_source'],
    histograms: ['latency'],
  },
  {
    id: 'regulators',
    primary: 'dispute_rate_bps',
    label: 'Regulators',
    stakeholder: 'regulators',
    blurb: 'Fraud, disputes, large transactions above the reporting threshold, and KYC.',
    sections: ['regulators', 'guardrails', 'series', 'mix', 'histograms'],
    // KYC levels are in the watch list above.
    dimensions: ['type', 'region'],
    histograms: ['ticket'],
  },
];

export const viewById = (id) => VIEWS.find((v) => v.id === id) || VIEWS[0];

/** True when the metric speaks for the view's stakeholder (every metric for "All"). */
export function inView(metric, view) {
  // The user's own metrics show in every view: they were written for whatever the user is looking at.
  if (metric.tier === 'custom') return true;
  return !view.stakeholder || (Array.isArray(metric.stakeholders) && metric.stakeholders.includes(view.stakeholder));
}

export const hasValue = (m) => typeof m?.value === 'number' && Number.isFinite(m.value);

/** Metrics drawn with reference lines: the guardrails, and any metric that has thresholds. */
export const isGuarded = (m) => m.tier === 'guardrail' || (Array.isArray(m.thresholds) && m.thresholds.length > 0);
