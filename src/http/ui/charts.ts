import type { TopLevelSpec } from 'vega-lite';
import type { CampaignReport } from '../../campaigns/report.ts';
import type { ConsentOverview } from '../../consent/status.ts';

/**
 * The report page's and the consent overview's charts, drawn on the server: Vega-Lite specs compiled to Vega and rendered to
 * SVG by Vega in node (renderer 'none', so no canvas package is needed), then embedded in the page
 * as markup. Pages stay script-free under the app's CSP. Labels (step ids, personas, reasons) come
 * from files and the database: they go into the specs as data values only, never as field names or
 * expressions, and Vega's SVG writer escapes every text and attribute it writes.
 */
export interface Chart {
  id: string;
  title: string;
  /** The rendered chart; absent when there is nothing to draw, and `empty` says why. */
  svg?: string;
  empty?: string;
}

/** The stages of a step's funnel, in their order. */
const FUNNEL = ['recorded', 'sent', 'delivered', 'replied', 'converted'] as const;
const WIDTH = 400;
const NOTHING_YET = 'No data yet: nothing recorded.';

/** The encoding of a single-view spec (`mark` and `encoding`). */
type Encoding = NonNullable<Extract<TopLevelSpec, { mark: unknown }>['encoding']>;

/** The message count axis every chart shares. */
const COUNT = { field: 'n', type: 'quantitative', title: 'messages', axis: { tickMinStep: 1 } } as const;

/** A bar chart of `values` (each with a count `n`), `height` pixels tall or a step per band. */
const bars = (values: object[], height: number | { step: number }, encoding: Encoding): TopLevelSpec => ({
  data: { values },
  width: WIDTH,
  height,
  mark: 'bar',
  encoding,
});

const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);

async function svgOf(spec: TopLevelSpec): Promise<string> {
  // Imported when first drawn: Vega's canvas probe (vega-canvas, which both import) awaits at its
  // top level, and a module graph holding a top-level await cannot be loaded with require(), as
  // mocha loads our tests (through tsx) before it falls back to import().
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Messages sent and replies received per day (the day of the message they answer, as in the report). */
function overTime(report: CampaignReport): TopLevelSpec | undefined {
  if (report.by_day.length === 0) return undefined;
  const values = report.by_day.flatMap((d) => [
    { day: d.day, series: 'sent', n: d.sent },
    { day: d.day, series: 'replies', n: total(d.replies) },
  ]);
  return bars(values, 200, {
    x: { field: 'day', type: 'ordinal', title: 'day (UTC)', axis: { labelAngle: 0 } },
    xOffset: { field: 'series', type: 'nominal', sort: ['sent', 'replies'] },
    y: COUNT,
    color: { field: 'series', type: 'nominal', sort: ['sent', 'replies'], title: null },
  });
}

/** Per step: recorded → sent → delivered → replied → converted. */
function funnel(report: CampaignReport): TopLevelSpec | undefined {
  if (report.steps.length === 0) return undefined;
  const values = report.steps.flatMap((s) => {
    const n = { recorded: s.recorded, sent: s.sent, delivered: s.delivered, replied: total(s.replies), converted: s.conversions };
    return FUNNEL.map((stage) => ({ step: s.step, stage, n: n[stage] }));
  });
  return bars(
    values,
    { step: 16 },
    {
      y: { field: 'step', type: 'nominal', sort: report.steps.map((s) => s.step), title: 'step' },
      yOffset: { field: 'stage', type: 'nominal', sort: [...FUNNEL] },
      x: COUNT,
      color: { field: 'stage', type: 'nominal', sort: [...FUNNEL], title: null },
    },
  );
}

/**
 * The emotion curve per step, beside the funnel: the average sentiment of the replies (-1…1) and
 * the average satisfaction answer (1…5), each bar labelled with how many it averages.
 */
function emotion(report: CampaignReport): TopLevelSpec | undefined {
  if (report.emotion.length === 0) return undefined;
  const steps = report.emotion.map((e) => e.step);
  const panel = (title: string, domain: [number, number], values: { step: string; value: number | null; n: number }[]) => ({
    data: { values: values.filter((v) => v.value !== null).map((v) => ({ ...v, label: `n=${v.n}` })) },
    width: WIDTH / 2 - 20,
    height: { step: 22 },
    encoding: {
      y: { field: 'step', type: 'nominal', sort: steps, title: 'step', scale: { domain: steps } },
      x: { field: 'value', type: 'quantitative', title, scale: { domain } },
    },
    layer: [{ mark: 'bar' }, { mark: { type: 'text', align: 'left', dx: 3 }, encoding: { text: { field: 'label', type: 'nominal' } } }],
  });
  return {
    hconcat: [
      panel(
        'reply sentiment (-1…1)',
        [-1, 1],
        report.emotion.map((e) => ({ step: e.step, value: e.sentiment, n: e.replies })),
      ),
      panel(
        'satisfaction (1…5)',
        [0, 5],
        report.emotion.map((e) => ({ step: e.step, value: e.csat, n: e.csat_answers })),
      ),
    ],
  } as TopLevelSpec;
}

/** Suppressed messages by reason, each bar split by step. */
function suppressions(report: CampaignReport): TopLevelSpec | undefined {
  const values = report.steps.flatMap((s) => Object.entries(s.suppressed).map(([reason, n]) => ({ reason, step: s.step, n })));
  if (values.length === 0) return undefined;
  return bars(
    values,
    { step: 22 },
    {
      y: { field: 'reason', type: 'nominal', title: 'reason' },
      x: COUNT,
      color: { field: 'step', type: 'nominal', sort: report.steps.map((s) => s.step), title: 'step' },
    },
  );
}

/** The report's charts, each rendered or with the reason it is not. */
export async function reportCharts(report: CampaignReport): Promise<Chart[]> {
  const nothing = report.steps.length === 0;
  const charts: [string, string, TopLevelSpec | undefined, string][] = [
    ['over-time', 'Messages sent and replies, by day', overTime(report), NOTHING_YET],
    ['funnel', 'Funnel per step', funnel(report), NOTHING_YET],
    ['emotion', 'Reply sentiment and satisfaction per step', emotion(report), 'No replies yet.'],
    ['suppressions', 'Suppressions by reason', suppressions(report), nothing ? NOTHING_YET : 'Nothing suppressed.'],
  ];
  return drawn(charts);
}

/** Each chart rendered, or with the reason it is not. */
function drawn(charts: [string, string, TopLevelSpec | undefined, string][]): Promise<Chart[]> {
  return Promise.all(charts.map(async ([id, title, spec, empty]) => (spec ? { id, title, svg: await svgOf(spec) } : { id, title, empty })));
}

/** People allowed now, per purpose, one bar per channel. */
function allowedNow(overview: ConsentOverview): TopLevelSpec | undefined {
  if (overview.allowed.length === 0) return undefined;
  return bars(
    overview.allowed,
    { step: 18 },
    {
      y: { field: 'purpose', type: 'nominal', title: 'purpose' },
      yOffset: { field: 'channel', type: 'nominal' },
      x: { ...COUNT, field: 'allowed', title: 'people allowed now' },
      color: { field: 'channel', type: 'nominal', title: null },
    },
  );
}

/** Withdrawals per week. */
function withdrawalsByWeek(overview: ConsentOverview): TopLevelSpec | undefined {
  if (overview.withdrawals.length === 0) return undefined;
  return bars(overview.withdrawals, 200, {
    x: { field: 'week', type: 'ordinal', title: 'week from (UTC)', axis: { labelAngle: -45 } },
    y: { ...COUNT, title: 'withdrawals' },
  });
}

/** The consent overview's charts, each rendered or with the reason it is not. */
export async function overviewCharts(overview: ConsentOverview): Promise<Chart[]> {
  const charts: [string, string, TopLevelSpec | undefined, string][] = [
    ['allowed', 'People allowed now, by purpose and channel', allowedNow(overview), 'No consent recorded yet.'],
    ['withdrawals', 'Withdrawals per week', withdrawalsByWeek(overview), 'No withdrawals in these weeks.'],
  ];
  return drawn(charts);
}
