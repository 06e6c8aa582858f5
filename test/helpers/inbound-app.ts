import { requireCampaign } from '../../src/campaigns/load.ts';
import type { Clock } from '../../src/clock.ts';
import { startInboundSmtp, type InboundSmtp } from '../../src/inbound/smtp-listener.ts';
import { seedLeads } from './seed.ts';
import type { SmtpSink } from './smtp.ts';
import { testEngine, type TestEngine } from './engine.ts';
import { startWeb, type TestWeb } from './web.ts';

/** The app as `serve` runs it for replies: HTTP on loopback (its PUBLIC_URL) and the inbound SMTP listener. */
export interface InboundApp {
  web: TestWeb;
  t: TestEngine;
  inbound: InboundSmtp;
  /** The host of PUBLIC_URL: the domain of our Message-IDs, and, unless INBOUND_DOMAIN says otherwise, the one the listener takes mail for. */
  domain: string;
  close(): Promise<void>;
}

export async function startInboundApp(env: Record<string, string>, clock?: Clock): Promise<InboundApp> {
  const web = await startWeb();
  const t = await testEngine({ ...env, PUBLIC_URL: web.base }, clock);
  web.serve(t.engine);
  const domain = new URL(web.base).hostname;
  // As `serve` starts it: for INBOUND_DOMAIN (by default the host of PUBLIC_URL).
  const inbound = await startInboundSmtp({
    ...t.config.inbound,
    host: '127.0.0.1',
    port: 0,
    maxBytes: 1024 * 1024,
    receive: t.engine.receiveReply,
  });
  return {
    web,
    t,
    inbound,
    domain,
    async close() {
      await inbound.close();
      await web.close();
      await t.close();
    },
  };
}

/** Alice, with email marketing consent, gets the `followup` campaign's offer (fixture inbound's campaign): something to reply to. */
export async function sendFollowupToAlice(t: TestEngine, sink: SmtpSink): Promise<void> {
  await seedLeads(t.database, [
    { id: 'alice', email: 'alice@example.com', first: 'Alice', locale: null, orders: 1, consent: ['grant', 'confirm'] },
  ]);
  await t.engine.startDispatcher();
  const set = t.engine.loadCampaigns();
  await t.engine.run(requireCampaign(set, 'followup'), set, { occurrence: 'o', trigger: 'manual' });
  await sink.waitFor(1);
}
