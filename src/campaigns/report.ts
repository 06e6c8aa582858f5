import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';
import { campaignRepeatRate, type RepeatFigure } from '../inbound/repeats.ts';
import { foldCampaignCounts, FOLD_ABOVE } from '../messages/report.ts';
import { durationMs } from './duration.ts';
import { requireCampaign } from './load.ts';
import type { CampaignSet } from './set.ts';

/** What a campaign's messages did, for one slice of them (a step, persona, channel or day). */
export interface Figures {
  recorded: number;
  sent: number;
  /** Email accepted by the SMTP server; SMS reported delivered by Twilio. */
  delivered: number;
  failed: Record<string, number>;
  suppressed: Record<string, number>;
  /** Human replies by category; automatic ones by kind (auto-reply, bounce). */
  replies: Record<string, number>;
  opt_outs: number;
  conversions: number;
  /** Spam complaints about its messages (abuse reports from mailbox providers' feedback loops). */
  spam_complaints: number;
  /** Emails that bounced (deliverability/): hard and soft, each message once per kind. */
  bounces: BounceFigures;
}

export interface BounceFigures {
  hard: number;
  soft: number;
}

export interface OccurrenceFigures {
  occurrence: string;
  recorded: number;
  sent: number;
  delivered: number;
  failed: number;
  suppressed: number;
}

/** How people felt at a step: the sentiment of their replies to it and their satisfaction answers about those contacts. */
export interface EmotionFigures {
  step: string;
  /** Human replies with words to score. */
  replies: number;
  /** Their average sentiment, -1…1; null without any. */
  sentiment: number | null;
  /** Satisfaction answers (1–5) about contacts that replied to this step. */
  csat_answers: number;
  csat: number | null;
}

/** One shape for `report --json` and GET /api/v1/campaigns/:id/report. */
export interface CampaignReport {
  campaign: string;
  /** The occurrence reported on, or null for all of them. */
  occurrence: string | null;
  occurrences: OccurrenceFigures[];
  steps: ({ step: string } & Figures)[];
  by_persona: ({ persona: string } & Figures)[];
  by_channel: ({ channel: string } & Figures)[];
  by_day: ({ day: string } & Figures)[];
  /** Of the contacts opened by replies to its messages, the repeat contacts (inbound/repeats.ts). */
  repeat_rate: RepeatFigure;
  /** The emotion curve: per step with replies, their average sentiment and CSAT, with counts. */
  emotion: EmotionFigures[];
  /** Spam complaints per email message sent, against the mailbox providers' limits. */
  complaint_rate: ComplaintRate;
}

export interface ReportRequest {
  campaignId: string;
  /** Null: every occurrence (an event campaign has one per enrollment). */
  occurrence: string | null;
  /** The campaign's goal event and attribution window, when it has one. */
  goal: { event: string; withinMs: number } | null;
  /** Whether a campaign file defines it: a campaign whose file is gone is reported while it has messages. */
  defined: boolean;
  /** The campaign's steps in file order, for the order of `steps`. */
  stepOrder: string[];
}

/** The attribution window of a goal that names none. */
export const DEFAULT_GOAL_WINDOW = '7d';

/** What to report on for campaign `id` as the files define it now. */
export function reportRequest(set: CampaignSet, campaignId: string, occurrence: string | null): ReportRequest {
  const campaign = set.campaigns.get(campaignId);
  // A file that defines it but does not load: its problems, rather than a report without its goal.
  if (!campaign && set.files.has(campaignId)) requireCampaign(set, campaignId);
  return {
    campaignId,
    occurrence,
    goal: campaign?.goal ? { event: campaign.goal.event, withinMs: durationMs(campaign.goal.within ?? DEFAULT_GOAL_WINDOW) } : null,
    defined: campaign !== undefined,
    stepOrder: campaign?.steps.map((s) => s.id) ?? [],
  };
}

/** The slice a count belongs to: step, persona, channel and UTC day of the message. */
interface Slice {
  step: string;
  persona: string;
  channel: string;
  day: string;
}

/** The slice of a message (`m`): its step, persona, channel and the day the counts give it (migration 0021). */
const MESSAGE_SLICE = `m.step_id AS step, m.persona, m.channel,
  to_char((SELECT s.day FROM message_count_split(m.status, m.channel, m.delivery_status, m.sent_at, m.created_at) s), 'YYYY-MM-DD') AS day`;
const OF_OCCURRENCE = `($2::text IS NULL OR m.occurrence = $2)`;

/**
 * The counts in one pass over the campaign's deltas (they may be many until folded): per occurrence
 * (all of them, for the list) and per slice (of the occurrence asked for, or all).
 */
const COUNTS = statement(
  'campaigns.report-counts',
  `SELECT grouping(occurrence) = 0 AS per_occurrence, occurrence, step_id AS step, persona, channel,
          to_char(day, 'YYYY-MM-DD') AS day, state, reason, delivered, sum(n)::int AS total,
          coalesce(sum(n) FILTER (WHERE $2::text IS NULL OR occurrence = $2), 0)::int AS n, count(*)::int AS deltas
     FROM message_counts WHERE campaign_id = $1
    GROUP BY GROUPING SETS ((occurrence, state, delivered), (step_id, persona, channel, day, state, reason, delivered))`,
);

/** Replies carry their message's campaign (inbound_contacts_campaign_idx): the campaign's replies are read, not its messages. */
const REPLIES = statement(
  'campaigns.report-replies',
  `SELECT ${MESSAGE_SLICE}, CASE WHEN c.kind = 'human' THEN c.category ELSE c.kind END AS key, count(*)::int AS n
     FROM inbound_contacts c JOIN messages m ON m.id = c.message_id
    WHERE c.campaign_id = $1 AND m.campaign_id = $1 AND ${OF_OCCURRENCE}
    GROUP BY 1, 2, 3, 4, 5`,
);

/** Sentiment of the replies to each step and the satisfaction answers about them (csat_answers carries the contact's step). */
const EMOTION = statement(
  'campaigns.report-emotion',
  `SELECT c.step_id AS step, count(c.sentiment)::int AS replies, round(avg(c.sentiment)::numeric, 3)::float AS sentiment,
          count(a.score)::int AS csat_answers, round(avg(a.score), 2)::float AS csat
     FROM inbound_contacts c JOIN messages m ON m.id = c.message_id LEFT JOIN csat_answers a ON a.contact_id = c.id
    WHERE c.campaign_id = $1 AND m.campaign_id = $1 AND c.kind = 'human' AND ${OF_OCCURRENCE}
    GROUP BY c.step_id`,
);

/**
 * Withdrawals a message led to: through its unsubscribe link or preference page (the token names the
 * message's idempotency key), or an opt-out reply to it (the contact names the message). Only these
 * sources are read, so evidence of other origins (imports) cannot claim a message. Withdrawals are
 * few among the ledger's events (consent_events_withdraw_idx).
 */
const OPT_OUTS = statement(
  'campaigns.report-opt-outs',
  `SELECT ${MESSAGE_SLICE}, count(*)::int AS n
     FROM consent_events e
     JOIN messages m ON m.id = CASE
       WHEN e.source IN ('unsubscribe-link', 'one-click-unsubscribe', 'preference-page')
         THEN (SELECT x.id FROM messages x WHERE x.idempotency_key = e.evidence->>'message')
       WHEN e.source IN ('reply-opt-out', 'agent-opt-out') AND e.evidence->>'contact_id' ~ '^[0-9]{1,18}$'
         THEN (SELECT c.message_id FROM inbound_contacts c WHERE c.id = (e.evidence->>'contact_id')::bigint) END
    WHERE e.action = 'withdraw' AND m.campaign_id = $1 AND ${OF_OCCURRENCE}
    GROUP BY 1, 2, 3, 4`,
);

/**
 * Sent messages followed by the goal event of the same person within the attribution window: each
 * message converts once, however many goal events follow it. Starts from the people with a goal
 * event (events_name_idx), reads their messages (messages_lead_idx; the OFFSET keeps PostgreSQL
 * from turning this into a scan of every message to hash) and looks for an event in each window
 * (events_lead_idx): the cost follows the buyers, not the campaign's size.
 */
const CONVERSIONS = statement(
  'campaigns.report-conversions',
  `SELECT ${MESSAGE_SLICE}, count(*)::int AS n
     FROM (SELECT DISTINCT lead_id FROM events WHERE name = $3) p
    CROSS JOIN LATERAL (SELECT * FROM messages m WHERE m.lead_id = p.lead_id AND m.campaign_id = $1 AND m.status = 'sent' AND ${OF_OCCURRENCE} OFFSET 0) m
    WHERE EXISTS (SELECT 1 FROM events e WHERE e.lead_id = m.lead_id AND e.name = $3
                     AND e.occurred_at > m.sent_at AND e.occurred_at <= m.sent_at + make_interval(secs => $4::double precision / 1000))
    GROUP BY 1, 2, 3, 4`,
);

/**
 * Spam complaints about the campaign's messages (inbound/complaints.ts): few by nature, and they
 * carry their message's campaign (spam_complaints_campaign_idx).
 */
const COMPLAINTS = statement(
  'campaigns.report-complaints',
  `SELECT ${MESSAGE_SLICE}, count(*)::int AS n
     FROM spam_complaints s JOIN messages m ON m.id = s.message_id
    WHERE s.campaign_id = $1 AND m.campaign_id = $1 AND ${OF_OCCURRENCE}
    GROUP BY 1, 2, 3, 4`,
);

/**
 * The share of email reported as spam that mailbox providers tolerate: Gmail and Yahoo want bulk
 * senders under 0.1 % and refuse or junk their mail above 0.3 %. A rate above a limit is reported
 * at its level.
 */
export const COMPLAINT_RATE_LIMITS = { warning: 0.001, alert: 0.003 } as const;

export interface ComplaintRate {
  complaints: number;
  /** Email messages sent: complaints come only from email. */
  sent: number;
  /** complaints / sent; null before anything was sent. */
  rate: number | null;
  level: 'ok' | 'warning' | 'alert';
}

/** The complaint rate of `complaints` among `sent` email messages, and its level. */
export function complaintRate(complaints: number, sent: number): ComplaintRate {
  const rate = sent > 0 ? complaints / sent : null;
  const level =
    rate === null ? 'ok' : rate > COMPLAINT_RATE_LIMITS.alert ? 'alert' : rate > COMPLAINT_RATE_LIMITS.warning ? 'warning' : 'ok';
  return { complaints, sent, rate, level };
}

const percent = (rate: number) => `${(rate * 100).toFixed(2)} %`;

/** The complaint rate in words, for the CLI and the report page: the figures, and what a level above ok means. */
export function describeComplaintRate({ complaints, sent, rate, level }: ComplaintRate): { text: string; note?: string } {
  const text = `${rate === null ? '-' : percent(rate)} (${complaints} spam complaints, ${sent} emails sent)`;
  if (level === 'alert')
    return { text, note: `alert: above ${percent(COMPLAINT_RATE_LIMITS.alert)}, where mailbox providers junk or refuse a sender's mail` };
  if (level === 'warning') return { text, note: `warning: above ${percent(COMPLAINT_RATE_LIMITS.warning)}, the rate to stay under` };
  return { text };
}

/** Bounces of the campaign's messages, hard and soft (a delivery report is not a bounce); a message counts once per kind. */
const BOUNCES = statement(
  'campaigns.report-bounces',
  `SELECT ${MESSAGE_SLICE}, b.outcome, count(*)::int AS n
     FROM email_bounces b JOIN messages m ON m.id = b.message_id
    WHERE m.campaign_id = $1 AND ${OF_OCCURRENCE} AND b.outcome IN ('hard', 'soft')
    GROUP BY 1, 2, 3, 4, 5`,
);

/** Adds the campaign's bounces to the splits. */
async function addBounces(db: Queryable, params: (string | null)[], splits: Splits): Promise<void> {
  const { rows } = await db.query<Slice & { outcome: keyof BounceFigures; n: number }>(BOUNCES, params);
  for (const row of rows) splits.each(row, (f) => (f.bounces[row.outcome] += row.n));
}

export const emptyFigures = (): Figures => ({
  recorded: 0,
  sent: 0,
  delivered: 0,
  failed: {},
  suppressed: {},
  replies: {},
  opt_outs: 0,
  conversions: 0,
  spam_complaints: 0,
  bounces: { hard: 0, soft: 0 },
});

const add = (counts: Record<string, number>, key: string, n: number) => {
  counts[key] = (counts[key] ?? 0) + n;
  if (counts[key] === 0) delete counts[key];
};

/** The figures of every slice, kept four ways at once. */
class Splits {
  readonly steps = new Map<string, Figures>();
  readonly personas = new Map<string, Figures>();
  readonly channels = new Map<string, Figures>();
  readonly days = new Map<string, Figures>();

  /** Applies `change` to the figures of each split the slice falls in. */
  each(slice: Slice, change: (figures: Figures) => void): void {
    for (const [map, key] of [
      [this.steps, slice.step],
      [this.personas, slice.persona],
      [this.channels, slice.channel],
      [this.days, slice.day],
    ] as const) {
      let figures = map.get(key);
      if (!figures) map.set(key, (figures = emptyFigures()));
      change(figures);
    }
  }
}

/** Sorted entries of one split, each named by `name`. */
function listed<K extends string>(map: Map<string, Figures>, name: K, order?: string[]): ({ [k in K]: string } & Figures)[] {
  const keys = [...map.keys()].sort((a, b) => {
    const [i, j] = order ? [order.indexOf(a), order.indexOf(b)] : [-1, -1];
    return i !== j ? (i < 0 ? 1 : j < 0 ? -1 : i - j) : a < b ? -1 : a > b ? 1 : 0;
  });
  return keys.map((key) => {
    const f = map.get(key)!;
    return { [name]: key, ...f, failed: sorted(f.failed), suppressed: sorted(f.suppressed), replies: sorted(f.replies) } as {
      [k in K]: string;
    } & Figures;
  });
}

/** A step's place in the file; steps no longer in it last. */
const stepRank = (order: string[], step: string) => (order.includes(step) ? order.indexOf(step) : order.length);

/** The counts with their keys in order, so that the same figures always print the same. */
function sorted(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * A campaign's report over all its occurrences or one: recorded, sent, delivered, failed and
 * suppressed come from the counts statement triggers keep (message_counts, migrations 0017 and
 * 0021), so their cost does not grow with the messages; replies, opt-outs and conversions from the
 * few rows that name the campaign's messages.
 */
export async function campaignReport(db: Queryable, request: ReportRequest): Promise<CampaignReport> {
  const { campaignId, occurrence, goal, stepOrder } = request;
  const params = [campaignId, occurrence];
  type Row = Slice & { n: number };
  type CountRow = Row & {
    per_occurrence: boolean;
    occurrence: string;
    state: string;
    reason: string | null;
    delivered: boolean;
    total: number;
    deltas: number;
  };
  const [counts, replies, optOuts, conversions, repeatRate, emotion, complaints] = await Promise.all([
    db.query<CountRow>(COUNTS, params),
    db.query<Row & { key: string }>(REPLIES, params),
    db.query<Row>(OPT_OUTS, params),
    goal ? db.query<Row>(CONVERSIONS, [...params, goal.event, goal.withinMs]) : Promise.resolve({ rows: [] as Row[] }),
    campaignRepeatRate(db, campaignId, occurrence),
    db.query<EmotionFigures>(EMOTION, params),
    db.query<Row>(COMPLAINTS, params),
  ]);
  const occurrences = await occurrenceFigures(
    db,
    campaignId,
    counts.rows.filter((r) => r.per_occurrence),
  );
  if (!request.defined && occurrences.length === 0) throw new AppError('not_found', `no campaign '${campaignId}' and no messages of one`);
  if (occurrence !== null && !occurrences.some((o) => o.occurrence === occurrence)) {
    const known = occurrences.map((o) => o.occurrence);
    throw new AppError(
      'not_found',
      `campaign '${campaignId}' has no messages of occurrence '${occurrence}'; ` +
        (known.length ? `its occurrences: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}` : 'it has none yet'),
    );
  }
  const splits = new Splits();
  for (const row of counts.rows) {
    if (row.per_occurrence || row.n === 0) continue;
    splits.each(row, (f) => {
      f.recorded += row.n;
      if (row.state === 'sent') f.sent += row.n;
      if (row.delivered) f.delivered += row.n;
      if (row.state === 'failed') add(f.failed, row.reason ?? 'unknown', row.n);
      if (row.state === 'suppressed') add(f.suppressed, row.reason ?? 'unknown', row.n);
    });
  }
  for (const row of replies.rows) splits.each(row, (f) => add(f.replies, row.key, row.n));
  for (const row of optOuts.rows) splits.each(row, (f) => (f.opt_outs += row.n));
  for (const row of conversions.rows) splits.each(row, (f) => (f.conversions += row.n));
  for (const row of complaints.rows) splits.each(row, (f) => (f.spam_complaints += row.n));
  await addBounces(db, params, splits);
  return {
    campaign: campaignId,
    occurrence,
    occurrences: occurrence === null ? occurrences : occurrences.filter((o) => o.occurrence === occurrence),
    steps: listed(splits.steps, 'step', stepOrder),
    by_persona: listed(splits.personas, 'persona'),
    by_channel: listed(splits.channels, 'channel'),
    by_day: listed(splits.days, 'day'),
    repeat_rate: repeatRate,
    emotion: emotion.rows.sort((a, b) => stepRank(stepOrder, a.step) - stepRank(stepOrder, b.step) || (a.step < b.step ? -1 : 1)),
    complaint_rate: complaintRate(
      complaints.rows.reduce((sum, row) => sum + row.n, 0),
      splits.channels.get('email')?.sent ?? 0,
    ),
  };
}

/**
 * Each occurrence with messages, and its totals, from the counts per occurrence; folds the
 * campaign's deltas when they are many, so that the next report reads a handful.
 */
async function occurrenceFigures(
  db: Queryable,
  campaignId: string,
  rows: { occurrence: string; state: string; delivered: boolean; total: number; deltas: number }[],
): Promise<OccurrenceFigures[]> {
  const byOccurrence = new Map<string, OccurrenceFigures & { deltas: number }>();
  for (const row of rows) {
    let o = byOccurrence.get(row.occurrence);
    if (!o) {
      o = { occurrence: row.occurrence, recorded: 0, sent: 0, delivered: 0, failed: 0, suppressed: 0, deltas: 0 };
      byOccurrence.set(row.occurrence, o);
    }
    o.deltas += row.deltas;
    o.recorded += row.total;
    if (row.delivered) o.delivered += row.total;
    if (row.state === 'sent' || row.state === 'failed' || row.state === 'suppressed') o[row.state] += row.total;
  }
  if (rows.reduce((sum, row) => sum + row.deltas, 0) > FOLD_ABOVE) await foldCampaignCounts(db, campaignId);
  return [...byOccurrence.values()]
    .filter((o) => o.recorded > 0)
    .sort((a, b) => (a.occurrence < b.occurrence ? -1 : 1))
    .map(({ deltas: _deltas, ...o }) => o);
}
