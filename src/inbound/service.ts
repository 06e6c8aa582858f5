import type pg from 'pg';
import type { CampaignSet } from '../campaigns/set.ts';
import type { Channel } from '../channels/channel.ts';
import type { Clock } from '../clock.ts';
import type { ReceiptDeps } from '../consent/receipt.ts';
import type { EmitEvents } from '../leads/events.ts';
import { replyToContact } from './answer.ts';
import type { SalesOpportunity } from './contact-events.ts';
import { answerCsat } from './csat.ts';
import { csatReport } from './csat-report.ts';
import { cannedContextOf, listCannedAnswers, renderCannedAnswer, type CannedContext } from './canned.ts';
import { getContact, listContacts, type Actor, type ContactFilter } from './contacts.ts';
import { escalateOverdue } from './escalate.ts';
import { repeatRates } from './repeats.ts';
import { optOutByAgent } from './opt-out.ts';
import { queuesInReach, queuesLedBy, reachableContact, reachOf, replyReach, type ReachableContact, type Viewer } from './reach.ts';
import { addNote } from './notes.ts';
import { serviceLevels } from './sla.ts';
import { handleInboundSms, type InboundSms } from './sms.ts';
import { queueMembers } from './team.ts';
import { acceptContact, assignContact, closeContact } from './workflow.ts';

/**
 * The service team's inbox as the API and the web pages use it, for a viewer. Lists apply the
 * reach rule (reach.ts) as a filter; a single contact is first resolved with `reachable`, which
 * answers not found outside the viewer's reach, and only a contact resolved that way can be read
 * or changed. Reading one shows the person's timeline with the words of only the replies in reach.
 */
export function inboxService(deps: {
  pool: pg.Pool;
  clock: Clock;
  loadCampaigns(): CampaignSet;
  smsHelpText: string | undefined;
  /** What a consent receipt needs, when CONSENT_RECEIPTS is on (consent/receipt.ts). */
  receipts(): ReceiptDeps | undefined;
  emit: EmitEvents;
  templatesDir: string;
}) {
  const { pool, clock } = deps;
  const rules = () => deps.loadCampaigns().inbound;
  return {
    /** Every queue of inbound.yaml, and those the viewer may see. */
    queues: () => rules().queues,
    queuesOf: (viewer: Viewer) => queuesInReach(rules(), viewer),
    list: (viewer: Viewer, filter: Omit<ContactFilter, 'reach'>) =>
      listContacts(pool, { ...filter, reach: reachOf(rules(), viewer) }, clock.now()),
    reachable: (viewer: Viewer, id: string | number) => reachableContact(pool, rules(), viewer, id),
    get: (viewer: Viewer, id: ReachableContact) => getContact(pool, id, clock.now(), replyReach(rules(), viewer)),
    /** Whose reply words the viewer may read in a lead's timeline. */
    replyReach: (viewer: Viewer) => replyReach(rules(), viewer),
    accept: (id: ReachableContact, actor: Actor) => acceptContact(pool, id, actor, clock.now()),
    reply: (id: ReachableContact, reply: { text: string; subject?: string; channel?: Channel }, actor: Actor) =>
      replyToContact(pool, id, reply, actor, clock.now()),
    assign: (id: ReachableContact, to: { user?: string; queue?: string }, actor: Actor) =>
      assignContact(pool, rules(), id, to, actor, clock.now()),
    /** Closes the contact; `contact_closed` (and `sales_opportunity` when flagged) go out with the change. */
    close: (id: ReachableContact, close: { resolution: string; sales?: SalesOpportunity }, actor: Actor) =>
      closeContact(pool, deps.emit, id, close, actor, clock.now()),
    /** A satisfaction answer on the survey page (its signed link names the contact). */
    answerCsat: (contactId: number, score: number) => answerCsat(pool, deps.emit, { contactId, score, via: 'link' }, clock.now()),
    /** Response rate, average and distribution per queue, agent and campaign. */
    csatReport: () => csatReport(pool),
    /** Records the opt-out the contact asks for, the agent as actor (for requests we could not verify). */
    optOut: (id: ReachableContact, actor: Actor) => optOutByAgent(pool, id, actor, clock.now()),
    /** An inbound text: STOP/START/HELP keywords change the ledger here; anything else is a reply. */
    inboundSms: (sms: InboundSms) => handleInboundSms(pool, sms, deps.smsHelpText, clock.now(), deps.receipts()),
    escalateOverdue: () => escalateOverdue(pool, rules(), clock.now()),
    /** Repeat contacts per queue and campaign, of the contacts received in [from, to). */
    repeatRates: (period: { from: Date; to: Date }) => repeatRates(pool, period),
    /** An internal note on the contact, by the actor. */
    addNote: (id: ReachableContact, text: string, actor: Actor) => addNote(pool, id, text, actor, clock.now()),
    /** The canned answers of templates/replies/. */
    cannedAnswers: () => listCannedAnswers(deps.templatesDir),
    /** A canned answer for the contact, in the person's language, signed by the agent. */
    renderCanned: async (id: ReachableContact, name: string, agent: CannedContext['agent']) => {
      const { locale, context } = await cannedContextOf(pool, id, agent);
      return renderCannedAnswer(deps.templatesDir, name, locale, context);
    },
    /** The queues the viewer leads (every queue for admins): whose team and service levels they see. */
    queuesLed: (viewer: Viewer) => queuesLedBy(rules(), viewer),
    /** Each member of a queue the viewer leads: available or away, and their open contacts. */
    team: (viewer: Viewer) =>
      Promise.all(queuesLedBy(rules(), viewer).map(async (q) => ({ queue: q.id, members: await queueMembers(pool, q.members) }))),
    /** First response, resolution and breaches per queue the viewer leads, for contacts received in the period. */
    serviceLevels: (viewer: Viewer, period: { from: Date; to: Date }) =>
      serviceLevels(
        pool,
        queuesLedBy(rules(), viewer).map((q) => q.id),
        period,
      ),
  };
}

export type InboxService = ReturnType<typeof inboxService>;
