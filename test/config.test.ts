import fs from 'node:fs';
import { expect } from 'chai';
import { loadConfig } from '../src/config.ts';
import { AppError } from '../src/errors.ts';

describe('configuration', () => {
  it('lists every problem of the environment at once', () => {
    const err = (() => {
      try {
        loadConfig({ PORT: 'eighty', SMTP_URL: 'http://mail', DATABASE_URL: 'mysql://x' });
      } catch (e) {
        return e;
      }
    })() as AppError;
    expect(err).to.be.instanceOf(AppError).with.property('code', 'invalid_config');
    expect(err.details).to.have.length(3);
    expect(err.details.join('\n')).to.contain('PORT').and.contain('SMTP_URL').and.contain('DATABASE_URL');
  });

  it('treats empty values as unset, so a copied .env.example works as it is', () => {
    const example = Object.fromEntries(
      fs
        .readFileSync('.env.example', 'utf8')
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const config = loadConfig(example);
    expect(config.databaseUrl).to.equal(undefined);
    expect(config.smtpUrl).to.equal(undefined);
    expect(config.publicUrl).to.equal('http://localhost:3000');
    expect(config.dispatch).to.include({ batchSize: 200, concurrency: 10 });
  });

  it('sizes the database pool from DATABASE_POOL_SIZE, 20 by default, and names a size it refuses', () => {
    expect(loadConfig({}).databasePoolSize).to.equal(20);
    expect(loadConfig({ DATABASE_POOL_SIZE: '5' }).databasePoolSize).to.equal(5);
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '1' }))
      .to.throw(AppError)
      .with.property('details')
      .that.satisfies((details: string[]) => details.some((d) => d.includes('DATABASE_POOL_SIZE')));
  });

  it('shows the web UI’s times in UI_TIMEZONE, UTC by default, and names a zone that does not exist', () => {
    expect(loadConfig({}).uiTimeZone).to.equal('UTC');
    expect(loadConfig({ UI_TIMEZONE: 'Europe/Berlin' }).uiTimeZone).to.equal('Europe/Berlin');
    expect(() => loadConfig({ UI_TIMEZONE: 'Europe/Atlantis' }))
      .to.throw(AppError)
      .with.property('details')
      .that.satisfies((details: string[]) => details.some((d) => d.includes('"UI_TIMEZONE" must be an IANA time zone')));
  });

  it('refuses an account-wide sign-in limit that one address could reach, defaults included', () => {
    expect(loadConfig({}).signIn).to.deep.equal({ perAccountAndAddress: 5, perAddress: 20, perAccount: 50 });
    for (const env of [{ SIGN_IN_MAX_FAILURES_PER_ADDRESS: '60' }, { SIGN_IN_MAX_FAILURES_PER_ACCOUNT: '20' }]) {
      expect(() => loadConfig(env))
        .to.throw(AppError)
        .with.property('details')
        .that.deep.equals([
          'SIGN_IN_MAX_FAILURES_PER_ACCOUNT (default 50) must be above SIGN_IN_MAX_FAILURES_PER_ADDRESS (default 20), so that one address cannot lock an account',
        ]);
    }
  });

  it('reads the seed list of test sends (TEST_RECIPIENTS) as emails and E.164 phones, and names an entry that is neither', () => {
    expect(loadConfig({}).testRecipients).to.deep.equal([]);
    expect(loadConfig({ TEST_RECIPIENTS: ' QA@Example.com, +4915112345678 ,' }).testRecipients).to.deep.equal([
      'qa@example.com',
      '+4915112345678',
    ]);
    expect(() => loadConfig({ TEST_RECIPIENTS: 'qa@example.com,0151 1234' }))
      .to.throw(AppError)
      .with.property('details')
      .that.deep.equals([
        `"TEST_RECIPIENTS" holds '0151 1234', which is neither an email address nor an E.164 phone number (+4915112345678)`,
      ]);
  });
});
