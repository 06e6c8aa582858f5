import type pg from 'pg';
import { authenticateApiKey, createApiKey, listApiKeys, revokeApiKey } from './access/keys.ts';
import { disableUser, enableUser } from './access/lifecycle.ts';
import { createSession, endSession, findSession } from './access/sessions.ts';
import { signIn, type SignInAttempt } from './access/sign-in.ts';
import { findActiveUser, listUsers, saveUser, setAvailable, setNotify, setTimeZone } from './access/users.ts';
import type { CampaignSet } from './campaigns/set.ts';
import { outboxDir } from './channels/index.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { consentAsOf, preferencesOf } from './consent/check.ts';
import { confirmGrant, type ConfirmationDeps } from './consent/double-opt-in.ts';
import { importConsents } from './consent/import.ts';
import { consentProof, exportConsentEvents } from './consent/proof.ts';
import type { ConsentImportOptions } from './consent/import.ts';
import { consentOverview, currentConsentOf } from './consent/status.ts';
import type { NoticeStore } from './consent/notices.ts';
import { recordConsent, type ConsentDecision } from './consent/record.ts';
import type { ConfirmPayload } from './consent/tokens.ts';
import { verifyLedger } from './consent/verify.ts';
import { inboxService } from './inbound/service.ts';
import { accessRequestsOf, answerAccessRequest, type AccessRequest } from './leads/access-request.ts';
import { eraseLead } from './leads/erase.ts';
import type { EmitEvents } from './leads/events.ts';
import { importLeads, type ImportOptions } from './leads/import.ts';
import { findLeadByExternalId, hasLeads, leadsByIds, saveLeads, searchLeads } from './leads/store.ts';
import { emailDeliverability } from './deliverability/state.ts';
import { leadHistory, leadTimeline } from './leads/timeline.ts';
import { dispatcherAlive } from './messages/claim.ts';
import { recordDeliveryStatus } from './messages/delivery.ts';
import { listMessages } from './messages/list.ts';
import { deliverySummary } from './messages/report.ts';
import { campaignReport, type ReportRequest } from './campaigns/report.ts';
import { listRuns } from './campaigns/runs.ts';
import { removedStepWarnings } from './sequences/deployed.ts';
import { dataKeys } from './leads/data-keys.ts';

/** A domain function with the database bound: what a shell calls. */
type Bound<F> = F extends (db: pg.Pool, ...args: infer A) => infer R ? (...args: A) => R : never;

/** Binds this process's pool as the first argument of each function. */
function bound<T extends Record<string, (db: pg.Pool, ...args: never[]) => unknown>>(
  pool: pg.Pool,
  fns: T,
): { [K in keyof T]: Bound<T[K]> } {
  return Object.fromEntries(Object.entries(fns).map(([name, fn]) => [name, (...args: never[]) => fn(pool, ...args)])) as {
    [K in keyof T]: Bound<T[K]>;
  };
}

/** What the services need from the engine around them. */
export interface ServiceDeps {
  pool: pg.Pool;
  config: Config;
  clock: Clock;
  /** The engine's signing key; also keys the sign-in throttle's hashes. */
  secret: string;
  confirmation: ConfirmationDeps;
  /** The consent notice texts (consent/notices.ts). */
  notices: NoticeStore;
  loadCampaigns(): CampaignSet;
  /** Records events in a transaction of the caller and starts what they trigger (contacts emit through it). */
  emit: EmitEvents;
}

/**
 * The domain services the shells (http/, cli/) work through: every read and change of records they
 * may make, bound to this process's pool and clock. They never get the database itself.
 */
export function createServices(deps: ServiceDeps) {
  const { pool, clock } = deps;
  // Read at each use: the links' base URL is announced after the services are made.
  const receipts = () =>
    deps.config.consentReceipts
      ? { publicUrl: deps.confirmation.publicUrl, secret: deps.confirmation.secret, notices: deps.notices }
      : undefined;
  return {
    access: {
      ...bound(pool, {
        authenticateKey: authenticateApiKey,
        createKey: createApiKey,
        listKeys: listApiKeys,
        findActiveUser,
        saveUser,
        listUsers,
        enableUser,
        setAvailable,
        setNotify,
        setTimeZone,
        createSession,
        findSession,
        endSession,
      }),
      /** Checks a password under the sign-in throttle shared by all processes. */
      signIn: (attempt: SignInAttempt) => signIn(pool, { secret: deps.secret, limits: deps.config.signIn }, attempt, clock.now()),
      revokeKey: (ref: string) => revokeApiKey(pool, ref, clock.now()),
      disableUser: (email: string) => disableUser(pool, email, clock.now()),
    },
    leads: {
      ...bound(pool, { find: findLeadByExternalId, save: saveLeads, timeline: leadTimeline, history: leadHistory, any: hasLeads }),
      search: (text: string, page?: { limit: number; offset: number }) => searchLeads(pool, text, deps.config.phoneRegion, page),
      /** A lead's locale: the language of the pages and answers meant for them. */
      localeOf: async (id: number) => (await leadsByIds(pool, [id])).get(id)?.locale ?? null,
      import: (file: string, options: Omit<ImportOptions, 'phoneRegion'> = {}) =>
        importLeads(pool, file, { ...options, phoneRegion: deps.config.phoneRegion }),
      erase: (externalId: string, options: { dryRun?: boolean } = {}) =>
        eraseLead(pool, externalId, { ...options, outboxDir: outboxDir(deps.config) }, clock.now()),
      /** Answers a data-subject access request (recorded: who, when) with everything held about the person. */
      accessRequest: (request: AccessRequest) => answerAccessRequest(pool, request, clock.now(), deps.notices),
      accessRequests: (externalId: string) => accessRequestsOf(pool, externalId),
    },
    /** Whether a person's email address takes our mail, with the bounce that decided it. */
    deliverability: bound(pool, { emailState: emailDeliverability }),
    consent: {
      ...bound(pool, {
        asOf: consentAsOf,
        preferences: preferencesOf,
        export: exportConsentEvents,
        verify: verifyLedger,
      }),
      import: (file: string, options: Omit<ConsentImportOptions, 'notices'> = {}) =>
        importConsents(pool, file, { ...options, notices: deps.notices }),
      record: (decision: ConsentDecision) => recordConsent(pool, deps.confirmation, decision, clock.now(), deps.notices, receipts()),
      proof: (externalId: string) => consentProof(pool, externalId, clock.now(), deps.notices),
      /** Counts of who is allowed what now, and withdrawals per week over the last `weeks`. */
      overview: (weeks: number) => consentOverview(pool, new Date(clock.now().getTime() - weeks * 7 * 86_400_000)),
      /** A person's consent now, for every channel and every purpose of the campaigns (and of their ledger). */
      current: (leadId: number) =>
        currentConsentOf(
          pool,
          leadId,
          [...deps.loadCampaigns().campaigns.values()].map((c) => c.purpose),
        ),
      confirm: (token: ConfirmPayload, evidence: { ip: string | null; user_agent: string | null }) =>
        confirmGrant(pool, token, evidence, clock.now(), receipts()),
    },
    inbox: inboxService({
      pool,
      clock,
      loadCampaigns: deps.loadCampaigns,
      smsHelpText: deps.config.smsHelpText,
      receipts,
      templatesDir: deps.config.templatesDir,
      emit: deps.emit,
    }),
    messages: {
      ...bound(pool, { list: listMessages, dispatcherAlive }),
      deliveryStatus: (report: Parameters<typeof recordDeliveryStatus>[1]) => recordDeliveryStatus(pool, report, clock.now()),
    },
    campaigns: {
      ...bound(pool, { removedStepWarnings, dataKeys, runs: listRuns }),
      /** What a campaign's messages did, over all its occurrences or one. */
      report: (request: ReportRequest) => campaignReport(pool, request),
      deliverySummary: (campaignId: string, occurrence: string) => deliverySummary(pool, campaignId, occurrence, clock.now()),
    },
  };
}

export type Services = ReturnType<typeof createServices>;
