import type { Router } from 'express';
import Joi from 'joi';
import { describeComplaintRate, reportRequest, type CampaignReport, type Figures } from '../../campaigns/report.ts';
import type { Engine } from '../../engine.ts';
import { reportQuery } from '../api/schemas.ts';
import { validateQuery } from '../validate.ts';
import { reportCharts } from './charts.ts';
import type { Ui } from './kit.ts';

/**
 * A campaign's report as a page, for marketers and admins: the same report as `touchpoint report
 * --json` and GET /api/v1/campaigns/:id/report (campaigns/report.ts), shown as tables and charts.
 * Every figure carries its place in that JSON (`data-figure="steps.offer.sent"`), so what the page
 * shows can be read back and held against the API.
 */

/** The selector's "all occurrences" submits an empty value. */
const pageQuery = Joi.object({ occurrence: reportQuery.extract('occurrence').allow('') });

/** Occurrences offered in the selector; an event campaign has one per enrollment, and a longer list is typed instead. */
const SELECTABLE = 200;

type Cell = { figure: string; value: number } | { parts: { label: string; figure: string; value: number }[] };

const COLUMNS = [
  'recorded',
  'sent',
  'delivered',
  'failed',
  'suppressed',
  'replies',
  'opt_outs',
  'conversions',
  'bounces',
  'spam_complaints',
] as const;

/** One row of figures, each cell named by its path in the report's JSON. */
function cells(prefix: string, figures: Figures): Cell[] {
  return COLUMNS.map((column) => {
    const value = figures[column];
    const figure = `${prefix}.${column}`;
    if (typeof value === 'number') return { figure, value };
    return { parts: Object.entries(value).map(([label, n]) => ({ label, figure: `${figure}.${label}`, value: n })) };
  });
}

/** The four splits of the report, as tables. */
function sections(report: CampaignReport) {
  const table = <K extends string>(id: string, title: string, column: string, key: K, rows: ({ [k in K]: string } & Figures)[]) => ({
    id,
    title,
    column,
    rows: rows.map((row) => ({ label: row[key], cells: cells(`${id}.${row[key]}`, row) })),
  });
  return [
    table('steps', 'Per step', 'Step', 'step', report.steps),
    table('by_persona', 'Per persona', 'Persona', 'persona', report.by_persona),
    table('by_channel', 'Per channel', 'Channel', 'channel', report.by_channel),
    table('by_day', 'Per day (UTC)', 'Day', 'day', report.by_day),
  ];
}

/**
 * What the report view shows: `report` of campaign `campaign`, for `occurrence` (null: all), with
 * `occurrences` (all the campaign has) in the selector.
 */
export async function reportView(
  campaign: { id: string; name?: string },
  occurrence: string | null,
  report: CampaignReport,
  occurrences: string[],
): Promise<Record<string, unknown>> {
  return {
    campaign,
    occurrence,
    selector: occurrences.length <= SELECTABLE ? occurrences.map((o) => ({ value: o, selected: o === occurrence })) : undefined,
    occurrences: report.occurrences.map((o) => ({
      occurrence: o.occurrence,
      href: `/campaigns/${encodeURIComponent(campaign.id)}/report?occurrence=${encodeURIComponent(o.occurrence)}`,
      cells: (['recorded', 'sent', 'delivered', 'failed', 'suppressed'] as const).map((column) => ({
        figure: `occurrences.${o.occurrence}.${column}`,
        value: o[column],
      })),
    })),
    sections: sections(report),
    complaintRate: { ...report.complaint_rate, ...describeComplaintRate(report.complaint_rate) },
    // Averages without anything to average (no CSAT answer yet) are no figure: shown as —.
    emotion: report.emotion.map((e) => ({
      step: e.step,
      cells: (['replies', 'sentiment', 'csat_answers', 'csat'] as const).map((column) =>
        e[column] === null ? {} : { figure: `emotion.${e.step}.${column}`, value: e[column] },
      ),
    })),
    charts: await reportCharts(report),
  };
}

export function reportRoutes(router: Router, engine: Engine, { page, guard }: Ui): void {
  router.get('/campaigns/:id/report', guard('write'), async (req, res) => {
    const occurrence = validateQuery(req, pageQuery).occurrence || null;
    const set = engine.loadCampaigns();
    const id = req.params.id as string;
    const report = await engine.campaigns.report(reportRequest(set, id, occurrence));
    // The selector lists every occurrence, also when the page shows one of them.
    const all = occurrence === null ? report : await engine.campaigns.report(reportRequest(set, id, null));
    const view = await reportView(
      { id, name: set.campaigns.get(id)?.name },
      occurrence,
      report,
      all.occurrences.map((o) => o.occurrence),
    );
    page(res, 'report', `Report of ${id}`, req, { nav: { campaigns: true }, ...view });
  });
}
