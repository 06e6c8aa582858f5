import { expect } from 'chai';
import { signToken } from '../../src/consent/tokens.ts';
import { saveLeads } from '../../src/leads/store.ts';
import { languageFor } from '../../src/render/locale.ts';
import { de } from '../../src/render/locales/de.ts';
import { en } from '../../src/render/locales/en.ts';
import { testEngine, type TestEngine } from '../helpers/engine.ts';
import { apiKeyFor } from '../helpers/keys.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';
import { postTwilioWebhook, startTwilioServer, type TwilioServer } from '../helpers/twilio-server.ts';
import { startWeb, type TestWeb } from '../helpers/web.ts';

/** Each person's locale, their address and number; the German one by a regional tag. */
const PEOPLE = [
  { id: 'de-person', locale: 'de-AT', phone: '+4915112340001', lang: 'de' },
  { id: 'en-person', locale: 'en-GB', phone: '+4915112340002', lang: 'en' },
  { id: 'fr-person', locale: 'fr-FR', phone: '+4915112340003', lang: 'en' },
  { id: 'no-locale', locale: null, phone: '+4915112340004', lang: 'en' },
] as const;

describe('the person’s language on pages and in answers', function () {
  this.timeout(60_000);
  let t: TestEngine;
  let sink: SmtpSink;
  let sms: TwilioServer;
  let web: TestWeb;
  let marketer: string;
  let sid = 0;

  before(async () => {
    sink = await startSmtpSink();
    sms = await startTwilioServer();
    web = await startWeb();
    t = await testEngine({
      SMTP_URL: sink.url,
      PUBLIC_URL: web.base,
      TWILIO_ACCOUNT_SID: sms.accountSid,
      TWILIO_AUTH_TOKEN: sms.authToken,
      TWILIO_FROM: '+15005550006',
      TWILIO_API_URL: sms.url,
    });
    web.serve(t.engine);
    marketer = await apiKeyFor(t.database, 'marketer');
    await saveLeads(
      t.database.pool,
      PEOPLE.map((p) => ({
        externalId: p.id,
        email: `${p.id}@example.com`,
        phone: p.phone,
        firstName: null,
        lastName: null,
        locale: p.locale,
        timezone: null,
        persona: null,
        tags: [],
        attributes: {},
      })),
    );
    await t.engine.startDispatcher();
  });
  after(async () => {
    await web.close();
    await t.close();
    await sink.close();
    await sms.close();
  });

  const leadId = async (externalId: string) => (await t.engine.leads.find(externalId))!.id;
  const htmlLang = (html: string) => /<html lang="([^"]+)">/.exec(html)?.[1];

  /** An inbound text signed as Twilio signs it, and the TwiML text it is answered with. */
  async function text(from: string, body: string): Promise<string | undefined> {
    const url = `${web.base}/webhooks/twilio/sms`;
    const params = { MessageSid: `SM${String(++sid).padStart(32, '0')}`, From: from, To: '+15005550006', Body: body };
    const res = await postTwilioWebhook(url, sms.authToken, params);
    expect(res.status).to.equal(200);
    return /<Message>(.*)<\/Message>/.exec(await res.text())?.[1];
  }

  it('falls back from a regional locale to its language, and from an unknown one to English', () => {
    expect(languageFor('de-AT').lang).to.equal('de');
    expect(languageFor('DE_ch').lang).to.equal('de');
    expect(languageFor('de').text).to.equal(de);
    expect(languageFor('fr-FR')).to.deep.equal({ lang: 'en', text: en });
    expect(languageFor(null).lang).to.equal('en');
    expect(languageFor('constructor').lang).to.equal('en');
  });

  for (const person of PEOPLE) {
    const words = person.lang === 'de' ? de : en;

    it(`speaks ${person.lang === 'de' ? 'German' : 'English'} to a person whose locale is ${person.locale ?? 'not known'}`, async () => {
      // The double opt-in mail, through the SMTP server, and the page its link opens.
      const sent = sink.messages.length;
      const grant = await fetch(`${web.base}/api/v1/consents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${marketer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ lead: person.id, channel: 'email', purpose: 'marketing', action: 'grant', source: 'signup-form' }),
      });
      expect(grant.status).to.equal(201);
      await sink.waitFor(sent + 1);
      const mail = sink.messages[sent]!;
      expect(mail.subject).to.equal(person.lang === 'de' ? 'Bitte bestätigen Sie Ihr Abonnement' : 'Please confirm your subscription');
      expect(mail.html).to.contain(words.confirm.marketingList);
      expect(mail.html).not.to.contain((person.lang === 'de' ? en : de).confirm.marketingList);
      const link = /href="([^"]+\/confirm\/[^"]+)"/.exec(mail.html as string)![1]!;
      const confirmPage = await (await fetch(link)).text();
      expect(htmlLang(confirmPage)).to.equal(person.lang);
      expect(confirmPage).to.contain(`<h1>${words.confirm.title}</h1>`).and.contain(words.confirm.button);
      const confirmed = await (await fetch(link, { method: 'POST' })).text();
      expect(confirmed).to.contain(words.confirm.confirmedText);

      // The unsubscribe page (with the preferences) and the page after the button.
      const token = signToken(t.engine.secret, {
        kind: 'unsubscribe',
        lead: await leadId(person.id),
        channel: 'email',
        purpose: 'marketing',
        message: `language-test:${person.id}`,
      });
      const unsubscribePage = await (await fetch(`${web.base}/unsubscribe/${token}`)).text();
      expect(htmlLang(unsubscribePage)).to.equal(person.lang);
      expect(unsubscribePage).to.contain(
        person.lang === 'de' ? 'Keine Werbe-E-Mails mehr von uns erhalten?' : 'Stop receiving marketing emails from us?',
      );
      expect(unsubscribePage).to.contain(`<h2>${words.unsubscribe.preferences}</h2>`);
      const done = await (await fetch(`${web.base}/unsubscribe/${token}`, { method: 'POST' })).text();
      expect(htmlLang(done)).to.equal(person.lang);
      expect(done).to.contain(words.unsubscribe.doneHeading);

      // STOP and HELP by text, answered in the same language.
      expect(await text(person.phone, 'STOP')).to.equal(words.sms.optOut);
      expect(await text(person.phone, 'help')).to.equal(words.sms.help);
      expect(words.sms.optOut).to.contain(person.lang === 'de' ? 'Sie sind abgemeldet' : 'You are unsubscribed');
    });
  }
});
