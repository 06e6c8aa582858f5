import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { feedbackId } from '../../src/campaigns/compose.ts';
import { requireCampaign } from '../../src/campaigns/load.ts';
import type { Campaign, Step } from '../../src/campaigns/types.ts';
import { unsignedEmailWarning } from '../../src/channels/index.ts';
import { loadConfig } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { captureLog } from '../helpers/logs.ts';
import { settled, testEngine, until, type TestEngine } from '../helpers/engine.ts';
import { seedLeads } from '../helpers/seed.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts';

/** A fresh RSA key pair: the private key as a PEM, the public one as the `p=` of its DNS record. */
function keyPair(bits = 2048): { privateKey: string; dnsValue: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), dnsValue: `v=DKIM1; k=rsa; p=${spki}` };
}

/** DNS as the README tells people to publish it, answered without a network: `<selector>._domainkey.<domain>` TXT. */
function resolverFor(records: Record<string, string>) {
  return async (name: string, type: string): Promise<string[][]> => {
    const record = records[name];
    if (type !== 'TXT' || record === undefined) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
    return [[record]];
  };
}

/** The tags of the message's DKIM-Signature header, unfolded. */
function signatureTags(raw: Buffer): Record<string, string> {
  const head = raw
    .toString('latin1')
    .split('\r\n\r\n')[0]!
    .replace(/\r\n[ \t]+/g, ' ');
  const field = head.split('\r\n').find((line) => /^dkim-signature:/i.test(line))!;
  return Object.fromEntries(
    field
      .slice(field.indexOf(':') + 1)
      .split(';')
      .map((tag) => tag.trim().split(/=(.*)/s) as [string, string])
      .filter(([name]) => name)
      .map(([name, value]) => [name, value.replace(/\s+/g, '')]),
  );
}

function configError(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(AppError).with.property('code', 'invalid_config');
    return (err as AppError).details as string[];
  }
  throw new Error('expected a config error');
}

const SELECTOR = 'tp2026';
const DOMAIN = 'shop.test';
const LEAD = { id: 'ann', email: 'ann@example.com', first: 'Ann', locale: null, orders: 3, consent: ['grant', 'confirm'] as const };

describe('DKIM signing and Feedback-ID', function () {
  this.timeout(60_000);
  const key = keyPair();
  const resolver = resolverFor({ [`${SELECTOR}._domainkey.${DOMAIN}`]: key.dnsValue });
  let dir: string;
  let keyFile: string;
  let t: TestEngine | undefined;
  let sink: SmtpSink | undefined;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'touchpoint-dkim-'));
    keyFile = path.join(dir, 'dkim.pem');
    fs.writeFileSync(keyFile, key.privateKey);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await t?.close();
    await sink?.close();
    t = sink = undefined;
  });

  /** Runs the e2e `spring` campaign (one step, `offer`, purpose `marketing`) for one consenting lead. */
  async function sendSpring(env: Record<string, string>): Promise<TestEngine> {
    t = await testEngine({ MAIL_FROM: `Shop <news@${DOMAIN}>`, ...env });
    await seedLeads(t.database, [LEAD]);
    await t.engine.startDispatcher();
    const set = t.engine.loadCampaigns();
    await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'manual', trigger: 'manual' });
    await settled(t, 'spring', 'manual');
    return t;
  }

  it('a campaign email sent over SMTP verifies against the published key, Feedback-ID and one-click headers signed', async () => {
    sink = await startSmtpSink();
    const engine = await sendSpring({ SMTP_URL: sink.url, DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY_FILE: keyFile });
    await sink.waitFor(1);
    const raw = sink.raw[0]!;

    const { results } = await dkimVerify(raw, { resolver });
    expect(results).to.have.length(1);
    expect(results[0]).to.include({ signingDomain: DOMAIN, selector: SELECTOR });
    expect(results[0]!.status).to.include({ result: 'pass', aligned: DOMAIN });

    expect(sink.messages[0]!.headers.get('feedback-id')).to.equal(`spring:offer:marketing:${DOMAIN}`);
    const signed = signatureTags(raw).h!.split(':');
    expect(signed).to.include.members(['from', 'subject', 'message-id', 'list-unsubscribe', 'list-unsubscribe-post', 'feedback-id']);

    // Stored with the message when it was recorded, so a retry sends the same one.
    const { rows } = await engine.database.pool.query(`SELECT headers->>'Feedback-ID' AS id FROM messages`);
    expect(rows).to.deep.equal([{ id: `spring:offer:marketing:${DOMAIN}` }]);
  });

  it('a changed body or a changed Feedback-ID no longer verifies', async () => {
    sink = await startSmtpSink();
    await sendSpring({ SMTP_URL: sink.url, DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY_FILE: keyFile });
    await sink.waitFor(1);
    const text = sink.raw[0]!.toString('latin1');
    const body = text.indexOf('\r\n\r\n');
    expect(text.indexOf('Ann', body)).to.be.above(body);

    const tamperedBody = text.slice(0, body) + text.slice(body).replace('Ann', 'Bob');
    const bodyResult = (await dkimVerify(Buffer.from(tamperedBody, 'latin1'), { resolver })).results[0]!.status;
    expect(bodyResult).to.include({ result: 'neutral', comment: 'body hash did not verify' });

    const tamperedHeader = text.replace(/^Feedback-ID: spring:/m, 'Feedback-ID: other:');
    expect(tamperedHeader).to.not.equal(text);
    const headerResult = (await dkimVerify(Buffer.from(tamperedHeader, 'latin1'), { resolver })).results[0]!.status;
    expect(headerResult).to.include({ result: 'fail', comment: 'bad signature' });
  });

  it('the outbox keeps the signed message, as SMTP would have sent it', async () => {
    const dataDir = path.join(dir, 'data');
    await sendSpring({ TOUCHPOINT_DATA_DIR: dataDir, DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY: key.privateKey.replaceAll('\n', '\\n') });
    const outbox = path.join(dataDir, 'outbox');
    const file = await until(async () => fs.readdirSync(outbox).find((name) => name.endsWith('.eml')));
    const { results } = await dkimVerify(fs.readFileSync(path.join(outbox, file)), { resolver });
    expect(results[0]!.status).to.include({ result: 'pass', aligned: DOMAIN });
  });

  it('signs with the key of the From domain among the keys of DKIM_KEYS_DIR', async () => {
    const other = keyPair();
    const keysDir = path.join(dir, 'keys');
    fs.mkdirSync(keysDir);
    fs.writeFileSync(path.join(keysDir, `old._domainkey.brand.test.pem`), other.privateKey);
    fs.writeFileSync(path.join(keysDir, `${SELECTOR}._domainkey.${DOMAIN}.pem`), key.privateKey);
    sink = await startSmtpSink();
    await sendSpring({ SMTP_URL: sink.url, DKIM_KEYS_DIR: keysDir });
    await sink.waitFor(1);
    const { results } = await dkimVerify(sink.raw[0]!, { resolver });
    expect(results).to.have.length(1);
    expect(results[0]).to.include({ signingDomain: DOMAIN, selector: SELECTOR });
    expect(results[0]!.status.result).to.equal('pass');
  });

  it('mail from a domain without a key goes out unsigned, with one warning at start rather than one per message', async () => {
    sink = await startSmtpSink();
    const lines = await captureLog(async () => {
      t = await testEngine({ SMTP_URL: sink!.url, MAIL_FROM: `Shop <news@${DOMAIN}>` });
      await seedLeads(t.database, [LEAD, { ...LEAD, id: 'bo', email: 'bo@example.com' }]);
      await t.engine.startDispatcher();
      const set = t.engine.loadCampaigns();
      await t.engine.run(requireCampaign(set, 'spring'), set, { occurrence: 'manual', trigger: 'manual' });
      await settled(t, 'spring', 'manual');
    });
    await sink.waitFor(2);
    expect(sink.raw.every((raw) => !/^dkim-signature:/im.test(raw.toString('latin1')))).to.equal(true);
    const warnings = lines.filter((line) => line.includes('without a DKIM signature'));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.contain(`email from ${DOMAIN} (MAIL_FROM)`);
  });

  it('warns about unsigned mail only when it leaves the machine or keys are set', () => {
    expect(unsignedEmailWarning(loadConfig({ MAIL_FROM: `news@${DOMAIN}` }))).to.equal(undefined);
    expect(unsignedEmailWarning(loadConfig({ MAIL_FROM: `news@${DOMAIN}`, SMTP_URL: 'smtp://mail.test' }))).to.contain(DOMAIN);
    const signing = { MAIL_FROM: `news@${DOMAIN}`, SMTP_URL: 'smtp://mail.test', DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY_FILE: keyFile };
    expect(unsignedEmailWarning(loadConfig(signing))).to.equal(undefined);
    expect(unsignedEmailWarning(loadConfig({ ...signing, DKIM_DOMAIN: DOMAIN, MAIL_FROM: 'news@elsewhere.test' }))).to.contain(
      'elsewhere.test',
    );
  });

  it('keeps each Feedback-ID field whole: colons and spaces inside a field become dashes', () => {
    const campaign = { id: 'spring', purpose: 'marketing' } as Campaign;
    expect(feedbackId(campaign, { id: 'offer' } as Step, 'shop.test')).to.equal('spring:offer:marketing:shop.test');
    expect(feedbackId({ ...campaign, id: 'a:b' }, { id: 'first  step' } as Step, 'x\ty')).to.equal('a-b:first-step:marketing:x-y');
  });

  describe('configuration', () => {
    it('a DKIM_PRIVATE_KEY that does not parse is a config error naming the variable', () => {
      const details = configError({
        MAIL_FROM: `news@${DOMAIN}`,
        DKIM_SELECTOR: SELECTOR,
        DKIM_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\nnot a key\n',
      });
      expect(details).to.have.length(1);
      expect(details[0]).to.match(/^"DKIM_PRIVATE_KEY" is not a PEM private key/);
    });

    it('names the file that cannot be read or holds no usable key', () => {
      const missing = path.join(dir, 'missing.pem');
      expect(configError({ DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY_FILE: missing })[0]).to.contain(
        `"DKIM_PRIVATE_KEY_FILE" (${missing}) cannot be read`,
      );
      const ed25519 = path.join(dir, 'ed25519.pem');
      fs.writeFileSync(ed25519, crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
      expect(configError({ DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY_FILE: ed25519 })[0]).to.contain('is not an RSA key (ed25519)');
      const short = path.join(dir, 'short.pem');
      fs.writeFileSync(short, keyPair(512).privateKey);
      expect(configError({ DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY_FILE: short })[0]).to.contain('is a 512-bit RSA key');
    });

    it('names a file of DKIM_KEYS_DIR that is misnamed or no key, and a domain with two keys', () => {
      const keysDir = path.join(dir, 'bad-keys');
      fs.mkdirSync(keysDir);
      fs.writeFileSync(path.join(keysDir, 'shop.pem'), key.privateKey);
      fs.writeFileSync(path.join(keysDir, 'a._domainkey.brand.test.pem'), 'not a key');
      fs.writeFileSync(path.join(keysDir, `${SELECTOR}._domainkey.${DOMAIN}.pem`), key.privateKey);
      fs.writeFileSync(path.join(keysDir, 'README.txt'), 'other files are left alone');
      const details = configError({
        MAIL_FROM: `news@${DOMAIN}`,
        DKIM_SELECTOR: 'main',
        DKIM_PRIVATE_KEY_FILE: keyFile,
        DKIM_KEYS_DIR: keysDir,
      });
      expect(details).to.have.length(3);
      expect(details[0]).to.match(/^"DKIM_KEYS_DIR" file a\._domainkey\.brand\.test\.pem is not a PEM private key/);
      expect(details[1]).to.equal(`"DKIM_KEYS_DIR" file shop.pem is not named <selector>._domainkey.<domain>.pem`);
      expect(details[2]).to.equal(`"DKIM_KEYS_DIR" file ${SELECTOR}._domainkey.${DOMAIN}.pem: ${DOMAIN} already has a DKIM key`);
    });

    it('needs a selector with a key, one key variable, and a key with a selector', () => {
      expect(configError({ DKIM_PRIVATE_KEY_FILE: keyFile }).join('\n')).to.contain('DKIM_PRIVATE_KEY_FILE needs DKIM_SELECTOR too');
      expect(configError({ DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY_FILE: keyFile, DKIM_PRIVATE_KEY: key.privateKey })).to.include(
        'set DKIM_PRIVATE_KEY or DKIM_PRIVATE_KEY_FILE, not both',
      );
      expect(configError({ DKIM_SELECTOR: SELECTOR })).to.deep.equal([
        '"DKIM_SELECTOR" is set without DKIM_PRIVATE_KEY or DKIM_PRIVATE_KEY_FILE',
      ]);
      expect(configError({ FEEDBACK_ID_SENDER: 'our shop:1' })[0]).to.contain('"FEEDBACK_ID_SENDER" must be');
    });

    it('signs for DKIM_DOMAIN, else the domain of MAIL_FROM; FEEDBACK_ID_SENDER defaults to that domain', () => {
      const config = loadConfig({ MAIL_FROM: `Shop <news@${DOMAIN}>`, DKIM_SELECTOR: SELECTOR, DKIM_PRIVATE_KEY_FILE: keyFile });
      expect(config.dkimKeys.map(({ domain, selector }) => ({ domain, selector }))).to.deep.equal([{ domain: DOMAIN, selector: SELECTOR }]);
      expect(config.feedbackIdSender).to.equal(DOMAIN);
      const explicit = loadConfig({
        DKIM_DOMAIN: 'Mail.Shop.test',
        DKIM_SELECTOR: SELECTOR,
        DKIM_PRIVATE_KEY_FILE: keyFile,
        FEEDBACK_ID_SENDER: 'shop-42',
      });
      expect(explicit.dkimKeys[0]!.domain).to.equal('mail.shop.test');
      expect(explicit.feedbackIdSender).to.equal('shop-42');
    });
  });
});
