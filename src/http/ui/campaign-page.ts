import path from 'node:path';
import type { Router } from 'express';
import Joi from 'joi';
import { planPage, type PlanPage } from '../../campaigns/plan-output.ts';
import type { StepPreview } from '../../campaigns/preview.ts';
import { reportRequest } from '../../campaigns/report.ts';
import { campaignSource } from '../../campaigns/source.ts';
import { templateVariableWarnings } from '../../campaigns/variables.ts';
import type { CampaignSet } from '../../campaigns/set.ts';
import type { Campaign } from '../../campaigns/types.ts';
import type { Engine } from '../../engine.ts';
import { AppError } from '../../errors.ts';
import { validateQuery } from '../validate.ts';
import type { Ui } from './kit.ts';

/** Plan entries per page of the recipient list. */
const PER_PAGE = 50;
/** Runs shown in the history, newest first. */
const RUNS_SHOWN = 20;

/** What the page's links and forms may ask: a search of the plan, its page, and a preview. */
const pageQuery = Joi.object<{ q: string; page: number; step?: string; persona: string; locale: string; lead: string; done?: string }>({
  q: Joi.string().trim().allow('').max(200).default(''),
  page: Joi.number().integer().min(1).max(1_000_000).default(1),
  step: Joi.string().max(100),
  persona: Joi.string().trim().allow('').max(100).default(''),
  locale: Joi.string()
    .trim()
    .allow('')
    .pattern(/^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$/)
    .max(35)
    .default('')
    .messages({ 'string.pattern.base': 'locale must look like en or de-DE' }),
  lead: Joi.string().trim().allow('').max(200).default(''),
  // The page of another part the person came from may add its flash.
  done: Joi.string().max(40),
});

/**
 * A campaign's own page (marketers and admins): its YAML with each problem at its line, the plan
 * (counts and a searchable, paged list of who gets what or why not), a preview of any step for a
 * persona, locale or lead, and its runs and occurrences. Everything is computed by the functions
 * behind `validate`, `plan`, `preview` and `report`; this module only arranges it.
 */
export function campaignPageRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  router.get('/campaigns/:id', guard('write'), async (req, res) => {
    const id = req.params.id as string;
    const query = validateQuery(req, pageQuery);
    const set = engine.loadCampaigns();
    const { campaignMaxFileBytes, templatesDir } = engine.config;
    const campaign = set.campaigns.get(id);
    // Warnings as `validate` finds them for this campaign alone, except the ones that scan every
    // lead's attributes (a page view is not a lint run).
    const own: CampaignSet = { ...set, campaigns: new Map(campaign ? [[id, campaign]] : []) };
    const warnings = [
      ...(await engine.campaigns.removedStepWarnings(own, campaignMaxFileBytes)),
      ...templateVariableWarnings(own, templatesDir, undefined, campaignMaxFileBytes),
    ];
    const source = campaignSource(set, id, campaignMaxFileBytes, warnings);
    const relative = (file: string) => path.relative(engine.config.campaignsDir, file) || path.basename(file);
    const context: Record<string, unknown> = {
      nav: { campaigns: true },
      id,
      campaign,
      file: relative(source.file),
      source,
      problems: source.problems.map((p) => ({ ...p, file: relative(p.file) })),
      errors: source.problems.some((p) => p.severity === 'error'),
    };
    if (campaign) {
      Object.assign(context, {
        plan:
          campaign.kind === 'lead'
            ? planView(await planPage(campaign.id, engine.planBatches(campaign, set), { ...query, perPage: PER_PAGE }), id, query)
            : undefined,
        preview: await previewView(engine, set, campaign, query),
        form: {
          steps: campaign.steps.map((s) => ({ id: s.id, selected: s.id === (query.step ?? campaign.steps[0]!.id) })),
          personas: set.personas.map((p) => ({ id: p.id, selected: p.id === query.persona })),
          locale: query.locale,
          lead: query.lead,
        },
        history: await historyView(engine, set, campaign),
      });
    }
    page(res, 'campaign', campaign ? `${campaign.name} (${id})` : id, req, context);
  });
}

/** Counts sorted largest first, as the page's small tables list them. */
const counts = (byKey: Record<string, number>) =>
  Object.entries(byKey)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([key, n]) => ({ key, n }));

function planView(plan: PlanPage, id: string, query: { q: string; page: number }) {
  const { summary } = plan;
  const pages = Math.max(1, Math.ceil(plan.matches / PER_PAGE));
  const link = (n: number) =>
    `/campaigns/${encodeURIComponent(id)}?${new URLSearchParams({ ...(query.q ? { q: query.q } : {}), page: String(n) })}#recipients`;
  return {
    recipients: summary.recipients,
    suppressed: summary.suppressed,
    sms: summary.sms,
    tables: [
      { title: 'By step', rows: counts(summary.byStep) },
      { title: 'By persona', rows: counts(summary.byPersona) },
      { title: 'By channel', rows: counts(summary.byChannel) },
      { title: 'Suppressed by reason', rows: counts(summary.byReason) },
    ],
    q: query.q,
    matches: plan.matches,
    entries: plan.entries,
    page: query.page,
    pages,
    previous: query.page > 1 ? link(query.page - 1) : undefined,
    next: query.page < pages ? link(query.page + 1) : undefined,
  };
}

/** The preview asked for, or what stands in its way (no such lead, a template that does not render) as the page's message. */
async function previewView(
  engine: Engine,
  set: CampaignSet,
  campaign: Campaign,
  query: { step?: string; persona: string; locale: string; lead: string },
) {
  if (!query.step) return undefined;
  try {
    let result: StepPreview;
    if (query.lead) {
      const lead = await engine.leads.find(query.lead);
      if (!lead) throw new AppError('not_found', `no lead with external id '${query.lead}'`);
      result = engine.preview(set, campaign, query.step, { lead });
    } else {
      if (!query.persona) throw new AppError('invalid_input', 'choose a persona or give a lead id');
      result = engine.preview(set, campaign, query.step, { persona: query.persona, locale: query.locale || null });
    }
    return { result };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { error: err.message };
  }
}

/** Each occurrence with its message counts (the report's list), and the latest runs with what they recorded. */
async function historyView(engine: Engine, set: CampaignSet, campaign: Campaign) {
  const [report, runs] = await Promise.all([
    engine.campaigns.report(reportRequest(set, campaign.id, null)),
    engine.campaigns.runs(campaign.id, RUNS_SHOWN),
  ]);
  const reportLink = (occurrence: string) => `/campaigns/${encodeURIComponent(campaign.id)}/report?${new URLSearchParams({ occurrence })}`;
  return {
    occurrences: report.occurrences.map((o) => ({ ...o, href: reportLink(o.occurrence) })),
    runs: runs.map((r) => ({ ...r, href: reportLink(r.occurrence), counts: Object.entries(r.counts).map(([key, n]) => ({ key, n })) })),
  };
}
