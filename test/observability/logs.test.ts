import { expect } from 'chai';
import { log } from '../../src/log.ts';
import { settled, type TestEngine } from '../helpers/engine.ts';
import { captureJsonLog } from '../helpers/logs.ts';
import { postLogin } from '../helpers/sign-in.ts';
import type { SmtpSink } from '../helpers/smtp.ts';
import type { TestWeb } from '../helpers/web.ts';
import { api, observedEngine, observedSink } from '../helpers/observed.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('observability: request ids, run ids and what the log holds', function () {
  this.timeout(60_000);
  let sink: SmtpSink;
  let t: TestEngine;
  let web: TestWeb;
  let key: string;

  before(async () => {
    sink = await observedSink();
    ({ t, web, key } = await observedEngine(sink));
    await t.engine.startDispatcher();
  });
  after(async () => {
    await web?.close();
    await t?.close();
    await sink?.close();
  });

  const requestId = async (sent?: string) =>
    (await fetch(`${web.base}/healthz`, { headers: sent === undefined ? {} : { 'x-request-id': sent } })).headers.get('x-request-id');

  it("answers every request with a request id: the caller's when it looks like one, else a new one", async () => {
    expect(await requestId('edge-4f2a:17.3_b')).to.equal('edge-4f2a:17.3_b');
    const fresh = [await requestId(), await requestId()];
    for (const id of fresh) expect(id).to.match(UUID);
    expect(fresh[0]).not.to.equal(fresh[1]);
    for (const insane of ['x'.repeat(129), 'jane.doe@example.com', 'two words', '"quoted"', 'a;b']) {
      expect(await requestId(insane), insane).to.match(UUID);
    }
  });

  it('writes one JSON line per event, each carrying the id of the request it belongs to', async () => {
    let refusedId = '';
    const lines = await captureJsonLog(async () => {
      const refused = await postLogin(web.base, 'ann@example.com', 'not the password');
      expect(refused.status).to.equal(401);
      refusedId = refused.headers.get('x-request-id')!;
    });
    const ofRequest = lines.filter((l) => l.json.request_id === refusedId).map((l) => l.json);
    expect(ofRequest.map((j) => j.msg)).to.deep.equal(['failed sign-in', 'request']);
    expect(ofRequest[0]).to.include({ level: 'warn' });
    expect(ofRequest[1]).to.include({ level: 'info', method: 'POST', route: '/login', status: 401 });
    for (const { json } of lines) {
      expect(json.time).to.be.a('string');
      expect(json.pid).to.equal(process.pid);
    }
  });

  it('logs of a whole run, sends and refusals included, hold no email address', async () => {
    const lines = await captureJsonLog(async () => {
      const res = await api(web, key, 'POST', '/campaigns/spring/runs', { occurrence: 'no-addresses' });
      expect(res.status).to.equal(201);
      await settled(t, 'spring', 'no-addresses');
      // The dispatcher says how many it sent once it has nothing more to do.
      await new Promise((r) => setTimeout(r, 300));
    }, 'debug');
    const texts = lines.map((l) => l.text);
    expect(texts.some((l) => l.includes('"msg":"run recorded"'))).to.equal(true);
    // The SMTP server's refusals quote the address; the log keeps the reason without it.
    const failures = lines.filter((l) => l.json.msg === 'send failed').map((l) => String(l.json.error));
    expect(failures).to.have.length(3);
    expect(failures.join('\n')).to.contain('<…@example.com>: Recipient address rejected').and.contain('<…@example.com>: try again later');
    for (const text of texts) expect(text).not.to.match(/[\w.+-]+@example\.com/);
  });

  it('masks addresses and numbers in the errors of providers and libraries, wherever they are logged', async () => {
    const twilio = "The 'To' number +1 500-555-0006 is not a valid phone number; reply to jane.doe+news@example.co.uk";
    const lines = await captureJsonLog(async () => {
      log.warn('send failed', { error: twilio });
      log.error('request failed', { error: new Error(`mailbox <ann@example.com> is full`, { cause: new Error(twilio) }) });
    });
    expect(lines[0]!.json.error).to.equal("The 'To' number +… is not a valid phone number; reply to …@example.co.uk");
    expect(lines[1]!.json.error)
      .to.match(/^Error: mailbox <…@example\.com> is full\n/)
      .and.contain("caused by: Error: The 'To' number +… is");
    for (const { text } of lines) expect(text).not.to.match(/jane|ann@|555/);
  });

  it("names a run's lines by its run id, and the request that started it", async () => {
    let answer: { run: number } | undefined;
    let startedBy = '';
    const lines = await captureJsonLog(async () => {
      const res = await api(web, key, 'POST', '/campaigns/spring/runs', { occurrence: 'run-id' });
      startedBy = res.headers.get('x-request-id')!;
      answer = (await res.json()) as { run: number };
    });
    const recorded = lines.find((l) => l.json.msg === 'run recorded')!.json;
    // The address the server refused for good in the run before is suppressed as bounced now (deliverability/).
    expect(recorded).to.include({ run_id: answer!.run, request_id: startedBy, campaign: 'spring', queued: 4 });
    await settled(t, 'spring', 'run-id');
  });
});
