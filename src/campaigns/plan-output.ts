import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addSmsCost, type Plan, type PlanBatch, type PlannedMessage, type PlanPerson, type PlanSuppression } from './plan.ts';

/**
 * A plan of any size, without holding it: counted for the table (planSummary), or written as it
 * is produced (writePlanJson, writePlanNdjson) to a terminal, a file or an HTTP answer.
 */

/** How many recipients and suppressions a summary shows as examples. */
export const PLAN_SAMPLE = 10;

export interface PlanSummary {
  campaign: string;
  recipients: number;
  suppressed: number;
  /** Recipients counted by step, persona, channel, template and the hour of the local send time. */
  byStep: Record<string, number>;
  byPersona: Record<string, number>;
  byChannel: Record<string, number>;
  byTemplate: Record<string, number>;
  byLocalHour: Record<string, number>;
  /** Suppressions counted by reason. */
  byReason: Record<string, number>;
  sample: { recipients: PlannedMessage[]; suppressed: PlanSuppression[] };
  sms: Plan['sms'];
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Counts a plan batch by batch. */
export async function planSummary(campaign: string, batches: AsyncIterable<PlanBatch> | Iterable<PlanBatch>): Promise<PlanSummary> {
  const summary: PlanSummary = {
    campaign,
    recipients: 0,
    suppressed: 0,
    byStep: {},
    byPersona: {},
    byChannel: {},
    byTemplate: {},
    byLocalHour: {},
    byReason: {},
    sample: { recipients: [], suppressed: [] },
    sms: { messages: 0, segments: 0 },
  };
  for await (const batch of batches) {
    for (const r of batch.recipients) {
      summary.recipients++;
      bump(summary.byStep, r.step);
      bump(summary.byPersona, r.persona);
      bump(summary.byChannel, r.channel);
      bump(summary.byTemplate, r.template);
      // send_at is the local time with its offset: YYYY-MM-DDTHH:…
      bump(summary.byLocalHour, `${r.send_at.slice(11, 13)}:00`);
      if (summary.sample.recipients.length < PLAN_SAMPLE) summary.sample.recipients.push(r);
    }
    for (const s of batch.suppressed) {
      summary.suppressed++;
      bump(summary.byReason, s.reason);
      if (summary.sample.suppressed.length < PLAN_SAMPLE) summary.sample.suppressed.push(s);
    }
    addSmsCost(summary.sms, batch.recipients);
  }
  return summary;
}

/** One line of a plan as a page lists it: the person, and what they would get or why not. */
export type PlanEntry = PlanPerson & { lead: string } & (
    ({ outcome: 'send' } & PlannedMessage) | ({ outcome: 'suppressed' } & PlanSuppression)
  );

export interface PlanPageRequest {
  /** Part of a lead's external id, name or email (any case); '' for everyone. */
  q: string;
  /** From 1. */
  page: number;
  perPage: number;
}

export interface PlanPage {
  summary: PlanSummary;
  /** How many entries match `q`, over the whole plan. */
  matches: number;
  /** The asked-for page of them, in audience order. */
  entries: PlanEntry[];
}

/**
 * The plan's counts and one page of its entries matching a search, in one pass over the plan: what
 * is held is the counts and the page, whatever the audience's size.
 */
export async function planPage(campaign: string, batches: AsyncIterable<PlanBatch>, request: PlanPageRequest): Promise<PlanPage> {
  const q = request.q.trim().toLowerCase();
  const first = (request.page - 1) * request.perPage;
  const entries: PlanEntry[] = [];
  let matches = 0;
  const consider = (entry: PlanEntry) => {
    if (q && ![entry.lead, entry.name, entry.email ?? ''].some((text) => text.toLowerCase().includes(q))) return;
    if (matches >= first && entries.length < request.perPage) entries.push(entry);
    matches++;
  };
  const summary = await planSummary(
    campaign,
    (async function* () {
      for await (const batch of batches) {
        const person = (lead: string) => batch.people?.get(lead) ?? { name: lead, email: null };
        for (const r of batch.recipients) consider({ ...person(r.lead), ...r, outcome: 'send' });
        for (const s of batch.suppressed) consider({ ...person(s.lead), ...s, outcome: 'suppressed' });
        yield batch;
      }
    })(),
  );
  return { summary, matches, entries };
}

/** Text written to a stream, waiting whenever the stream asks to (a slow reader holds the plan back, not memory). */
export type TextSink = (text: string) => Promise<void>;

export function streamSink(stream: NodeJS.WritableStream): TextSink {
  return async (text) => {
    if (!stream.write(text)) await once(stream, 'drain');
  };
}

const lines = (entries: readonly unknown[], first: boolean) =>
  entries.map((e, i) => (first && i === 0 ? '\n' : ',\n') + JSON.stringify(e)).join('');

/**
 * The plan as one JSON document of the same shape as Plan (`recipients`, `suppressed`, `sms`),
 * one entry per line, written as the audience is read. Suppressions come after all recipients in
 * the document but are found among them: they wait in a temporary file, not in memory. Nothing is
 * written before the first batch is planned, so an error there (an event campaign) is still an
 * error of its own and not a cut document.
 */
export async function writePlanJson(campaign: string, batches: AsyncIterable<PlanBatch>, write: TextSink): Promise<void> {
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'touchpoint-plan-'));
  const spool = path.join(spoolDir, 'suppressed.jsonl');
  const fd = fs.openSync(spool, 'w');
  try {
    const sms = { messages: 0, segments: 0 };
    let recipients = 0;
    let suppressed = 0;
    let started = false;
    for await (const batch of batches) {
      if (!started) await write(`{"campaign":${JSON.stringify(campaign)},"recipients":[`);
      started = true;
      if (batch.recipients.length > 0) await write(lines(batch.recipients, recipients === 0));
      if (batch.suppressed.length > 0) fs.writeSync(fd, lines(batch.suppressed, suppressed === 0));
      recipients += batch.recipients.length;
      suppressed += batch.suppressed.length;
      addSmsCost(sms, batch.recipients);
    }
    if (!started) await write(`{"campaign":${JSON.stringify(campaign)},"recipients":[`);
    await write(`${recipients > 0 ? '\n' : ''}],"suppressed":[`);
    fs.closeSync(fd);
    for await (const chunk of fs.createReadStream(spool, { encoding: 'utf8' })) await write(chunk as string);
    await write(`${suppressed > 0 ? '\n' : ''}],"sms":${JSON.stringify(sms)}}\n`);
  } finally {
    fs.rmSync(spoolDir, { recursive: true, force: true });
  }
}

/**
 * The plan as JSON lines, written as the audience is read: `{"type":"recipient",…}` and
 * `{"type":"suppressed",…}` per person, then one `{"type":"summary",…}` with the counts.
 */
export async function writePlanNdjson(campaign: string, batches: AsyncIterable<PlanBatch>, write: TextSink): Promise<void> {
  const summary = await planSummary(
    campaign,
    (async function* () {
      for await (const batch of batches) {
        const text = [
          ...batch.recipients.map((r) => JSON.stringify({ type: 'recipient', ...r })),
          ...batch.suppressed.map((s) => JSON.stringify({ type: 'suppressed', ...s })),
        ];
        if (text.length > 0) await write(text.join('\n') + '\n');
        yield batch;
      }
    })(),
  );
  const { recipients, suppressed, byStep, byPersona, byChannel, byTemplate, byLocalHour, byReason, sms } = summary;
  await write(
    JSON.stringify({
      type: 'summary',
      campaign,
      recipients,
      suppressed,
      by_step: byStep,
      by_persona: byPersona,
      by_channel: byChannel,
      by_template: byTemplate,
      by_local_hour: byLocalHour,
      by_reason: byReason,
      sms,
    }) + '\n',
  );
}
