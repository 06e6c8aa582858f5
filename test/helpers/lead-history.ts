import { saveUser } from '../../src/access/users.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import { parseInboundEmail } from '../../src/inbound/email.ts';
import { settled, testEngine, type TestEngine } from './engine.ts';
import { seedLeads } from './seed.ts';
import { startSmtpSink, type SmtpSink } from './smtp.ts';
import { startWeb, type TestWeb } from './web.ts';

export const PASSWORD = 'correct horse battery';
/** What Anna wrote back; it must never reach a marketer's page. */
export const REPLY_SUBJECT = 'Subject only Anna and the inbox may read';
export const REPLY_BODY = 'My private reply: my husband is ill, please call me at +49 30 1234567';

/** The app with a marketer (mia@example.com) and Anna, who was sent the spring offer, replied, and then withdrew. */
export interface LeadScenario {
  t: TestEngine;
  web: TestWeb;
  sink: SmtpSink;
  close(): Promise<void>;
}

export async function leadScenario(): Promise<LeadScenario> {
  const sink = await startSmtpSink();
  const web = await startWeb();
  const t = await testEngine({ SMTP_URL: sink.url, PUBLIC_URL: web.base });
  web.serve(t.engine);
  await saveUser(t.database.pool, { email: 'mia@example.com', name: 'Mia', role: 'marketer', password: PASSWORD });
  await seedLeads(t.database, [
    { id: 'anna', email: 'anna@example.com', first: 'Anna', locale: 'de-DE', orders: 2, consent: ['grant', 'confirm'] },
    { id: 'ben', email: 'ben@example.com', first: 'Ben', locale: null, orders: 1, consent: ['grant', 'confirm'] },
  ]);
  await t.engine.ingestEvents([{ lead: 'anna', event: 'order_placed', properties: { plan: 'pro' } }]);
  await t.engine.startDispatcher();
  const set = t.engine.loadCampaigns();
  await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'o', trigger: 'manual' });
  await settled(t, 'spring', 'o');
  const raw = `From: anna@example.com\r\nTo: hello@127.0.0.1\r\nSubject: ${REPLY_SUBJECT}\r\nMessage-ID: <anna-1@example.com>\r\n\r\n${REPLY_BODY}\r\n`;
  await t.engine.receiveReply(await parseInboundEmail(Buffer.from(raw)));
  const anna = (await t.engine.leads.find('anna'))!;
  await t.engine.consent.record({
    leadId: anna.id,
    channel: 'email',
    purpose: 'marketing',
    action: 'withdraw',
    source: 'preference-center',
    evidence: {},
    actor: 'recipient',
  });
  return {
    t,
    web,
    sink,
    async close() {
      await web.close();
      await t.close();
      await sink.close();
    },
  };
}
