import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import Joi from 'joi';
import { IANAZone } from 'luxon';
import type { SignInLimits } from './access/sign-in.ts';
import { addressDomain, readDkimKeys, type DkimKey } from './channels/dkim.ts';
import { AppError } from './errors.ts';
import { DEFAULT_MAX_FILE_BYTES } from './yaml/positions.ts';

/** Everything the engine reads from its environment, validated once at start. */
export interface Config {
  /** PostgreSQL server to use; unset means the embedded server under `dataDir`. */
  databaseUrl: string | undefined;
  /** Connections this process's pool may open (its dispatcher, the scheduler's listener and the database watch hold one more each). */
  databasePoolSize: number;
  /** The embedded server's data directory (also the outbox's home): see `dataDirOrigin`. */
  dataDir: string;
  /** How `dataDir` was found, in words, for messages that must say where they looked. */
  dataDirOrigin: string;
  campaignsDir: string;
  templatesDir: string;
  /** Consent notice texts, `<purpose>/<version>.<locale>.md` (consent/notices.ts), read once at start. */
  noticesDir: string;
  /** CONSENT_RECEIPTS: email the person a receipt of each consent change they make (consent/receipt.ts). */
  consentReceipts: boolean;
  /** Campaign files (and personas.yaml, inbound.yaml) larger than this are a problem, never parsed. */
  campaignMaxFileBytes: number;
  port: number;
  /** Port of `touchpoint worker`'s own HTTP listener (/healthz, /readyz, /metrics); unset: the worker listens on none. */
  workerHttpPort: number | undefined;
  /** This process's public base URL: PUBLIC_URL, else http://localhost:PORT. */
  publicUrl: string;
  /** Whether PUBLIC_URL was set (else links in messages use the URL the running server announced). */
  publicUrlConfigured: boolean;
  /** Key that signs links and addresses in messages (unsubscribe, double opt-in, reply tokens); generated and kept in the database when unset. */
  secret: string | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  /** DKIM signing keys, one per From domain (channels/dkim.ts); mail from a domain without one goes out unsigned. */
  dkimKeys: DkimKey[];
  /** The last field of every campaign email's Feedback-ID (FEEDBACK_ID_SENDER, default MAIL_FROM's domain). */
  feedbackIdSender: string;
  /** Answer to an inbound HELP; unset, the shipped text in the sender's language (render/locales). */
  smsHelpText: string | undefined;
  /**
   * Seed list of test sends (TEST_RECIPIENTS): email addresses (lower case) and E.164 phone numbers a
   * test send may go to besides a Touchpoint user's own address (campaigns/test-send.ts).
   */
  testRecipients: string[];
  /** ISO country code for phone numbers written without a country code. */
  phoneRegion: string | undefined;
  /** Twilio credentials and sender; unset means SMS go to the outbox. */
  twilio: { accountSid: string; authToken: string; messagingServiceSid?: string; from?: string; apiUrl?: string } | undefined;
  dispatch: {
    batchSize: number;
    concurrency: number;
    maxAttempts: number;
    pollMs: number;
    retryBaseMs: number;
    /** Consecutive failures to reach a channel's provider that pause the channel, and how often a paused one is probed. */
    circuit: { failures: number; probeMs: number };
  };
  runBatchSize: number;
  /** How long a stopping process waits for sends in flight and then for running scheduler jobs. */
  stopTimeoutMs: number;
  /** Replies: the domain of reply addresses, the SMTP listener, the shared secret of the MIME webhook. */
  inbound: {
    domain: string;
    smtpPort: number | undefined;
    smtpHost: string;
    webhookSecret: string | undefined;
    maxBytes: number;
    /** Recipients the SMTP listener takes per message; more are answered 452 (the sender sends them in another round). */
    maxRecipients: number;
    /** SMTP connections open at once from one client address; more are answered 421. */
    maxConnectionsPerClient: number;
  };
  /** Failed sign-ins allowed per 15 minutes, shared by all processes (access/sign-in.ts). */
  signIn: SignInLimits;
  /** Event intake requests (POST /events, the Segment routes) this process takes at once; more answer 429 (http/intake.ts). */
  eventsMaxInFlight: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Log lines as JSON or as text for people; `auto`: text on a terminal, JSON anywhere else. */
  logFormat: 'auto' | 'json' | 'pretty';
  /** The IANA time zone every time on the web UI's pages is shown in. */
  uiTimeZone: string;
}

/** A DNS name of one or more labels (a DKIM selector). */
const DNS_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;

/** An entry of TEST_RECIPIENTS: an email address, or a phone number in E.164. */
const TEST_RECIPIENT = /^(?:[^\s@,]+@[^\s@,]+\.[^\s@,]+|\+[1-9]\d{6,14})$/;

const schema = Joi.object({
  DATABASE_URL: Joi.string().uri({ scheme: ['postgres', 'postgresql'] }),
  DATABASE_POOL_SIZE: Joi.number().integer().min(2).max(200).default(20),
  TOUCHPOINT_DATA_DIR: Joi.string(),
  CAMPAIGNS_DIR: Joi.string(),
  TEMPLATES_DIR: Joi.string(),
  NOTICES_DIR: Joi.string(),
  CONSENT_RECEIPTS: Joi.boolean().default(false),
  CAMPAIGN_MAX_FILE_BYTES: Joi.number()
    .integer()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(DEFAULT_MAX_FILE_BYTES),
  PORT: Joi.number().port().default(3000),
  WORKER_HTTP_PORT: Joi.number().port(),
  PUBLIC_URL: Joi.string().uri({ scheme: ['http', 'https'] }),
  TOUCHPOINT_SECRET: Joi.string().min(32),
  SMTP_URL: Joi.string().uri({ scheme: ['smtp', 'smtps'] }),
  MAIL_FROM: Joi.string().default('Touchpoint <touchpoint@localhost>'),
  DKIM_DOMAIN: Joi.string().hostname(),
  DKIM_SELECTOR: Joi.string()
    .pattern(DNS_NAME)
    .messages({ 'string.pattern.base': '"DKIM_SELECTOR" must be a DNS label like tp2026 (letters, digits, dashes; dots between labels)' }),
  DKIM_PRIVATE_KEY: Joi.string(),
  DKIM_PRIVATE_KEY_FILE: Joi.string(),
  DKIM_KEYS_DIR: Joi.string(),
  FEEDBACK_ID_SENDER: Joi.string()
    .pattern(/^[A-Za-z0-9._-]{1,64}$/)
    .messages({
      'string.pattern.base': '"FEEDBACK_ID_SENDER" must be 1 to 64 letters, digits, dots, dashes or underscores (no colons or spaces)',
    }),
  SMS_HELP_TEXT: Joi.string().max(320),
  TEST_RECIPIENTS: Joi.string().custom((value: string, helpers) => {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const bad = entries.find((entry) => !TEST_RECIPIENT.test(entry));
    if (bad === undefined) return entries.map((entry) => entry.toLowerCase());
    return helpers.message({
      custom: `"TEST_RECIPIENTS" holds '${bad}', which is neither an email address nor an E.164 phone number (+4915112345678)`,
    });
  }),
  DEFAULT_PHONE_REGION: Joi.string()
    .pattern(/^[A-Z]{2}$/)
    .messages({ 'string.pattern.base': '"DEFAULT_PHONE_REGION" must be an ISO 3166 country code like DE or US' }),
  TWILIO_ACCOUNT_SID: Joi.string()
    .pattern(/^AC[0-9a-fA-F]{32}$/)
    .messages({ 'string.pattern.base': '"TWILIO_ACCOUNT_SID" must look like AC followed by 32 hex digits' }),
  TWILIO_AUTH_TOKEN: Joi.string(),
  TWILIO_MESSAGING_SERVICE_SID: Joi.string()
    .pattern(/^MG[0-9a-fA-F]{32}$/)
    .messages({ 'string.pattern.base': '"TWILIO_MESSAGING_SERVICE_SID" must look like MG followed by 32 hex digits' }),
  TWILIO_FROM: Joi.string()
    .pattern(/^\+[1-9]\d{6,14}$/)
    .messages({ 'string.pattern.base': '"TWILIO_FROM" must be an E.164 number like +15005550006' }),
  TWILIO_API_URL: Joi.string().uri({ scheme: ['http', 'https'] }),
  DISPATCH_BATCH_SIZE: Joi.number().integer().min(1).max(10_000).default(200),
  DISPATCH_CONCURRENCY: Joi.number().integer().min(1).max(100).default(10),
  DISPATCH_MAX_ATTEMPTS: Joi.number().integer().min(1).max(50).default(8),
  DISPATCH_POLL_MS: Joi.number().integer().min(10).max(60_000).default(1000),
  DISPATCH_RETRY_BASE_MS: Joi.number().integer().min(10).max(3_600_000).default(30_000),
  DISPATCH_CIRCUIT_FAILURES: Joi.number().integer().min(1).max(1000).default(5),
  DISPATCH_CIRCUIT_PROBE_MS: Joi.number().integer().min(10).max(600_000).default(2_000),
  RUN_BATCH_SIZE: Joi.number().integer().min(1).max(10_000).default(500),
  STOP_TIMEOUT_MS: Joi.number().integer().min(100).max(600_000).default(20_000),
  INBOUND_DOMAIN: Joi.string().hostname(),
  INBOUND_SMTP_PORT: Joi.number().port(),
  INBOUND_SMTP_HOST: Joi.string().default('127.0.0.1'),
  INBOUND_WEBHOOK_SECRET: Joi.string().min(24),
  INBOUND_MAX_BYTES: Joi.number()
    .integer()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(10 * 1024 * 1024),
  SIGN_IN_MAX_FAILURES: Joi.number().integer().min(1).max(1000).default(5),
  EVENTS_MAX_IN_FLIGHT: Joi.number().integer().min(1).max(10_000).default(100),
  SIGN_IN_MAX_FAILURES_PER_ADDRESS: Joi.number().integer().min(1).max(100_000).default(20),
  SIGN_IN_MAX_FAILURES_PER_ACCOUNT: Joi.number().integer().min(1).max(100_000).default(50),
  INBOUND_SMTP_MAX_RECIPIENTS: Joi.number().integer().min(1).max(10_000).default(100),
  INBOUND_SMTP_MAX_CONNECTIONS_PER_CLIENT: Joi.number().integer().min(1).max(10_000).default(10),
  LOG_LEVEL: Joi.string().valid('debug', 'info', 'warn', 'error', 'silent').default('info'),
  LOG_FORMAT: Joi.string().valid('auto', 'json', 'pretty').default('auto'),
  UI_TIMEZONE: Joi.string()
    .default('UTC')
    .custom((zone: string, helpers) => (IANAZone.isValidZone(zone) ? zone : helpers.error('any.invalid')))
    .messages({ 'any.invalid': '"UI_TIMEZONE" must be an IANA time zone like Europe/Berlin or UTC, not "{#value}"' }),
})
  .and('TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN')
  .messages({ 'object.and': 'TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are set together or not at all' })
  .oxor('DKIM_PRIVATE_KEY', 'DKIM_PRIVATE_KEY_FILE')
  .with('DKIM_PRIVATE_KEY', 'DKIM_SELECTOR')
  .with('DKIM_PRIVATE_KEY_FILE', 'DKIM_SELECTOR')
  .with('DKIM_DOMAIN', 'DKIM_SELECTOR')
  .messages({
    'object.oxor': 'set DKIM_PRIVATE_KEY or DKIM_PRIVATE_KEY_FILE, not both',
    'object.with': '{#mainWithLabel} needs {#peerWithLabel} too',
  })
  .when(Joi.object({ TWILIO_ACCOUNT_SID: Joi.exist() }).unknown(), {
    then: Joi.object().or('TWILIO_MESSAGING_SERVICE_SID', 'TWILIO_FROM').messages({
      'object.missing': 'with TWILIO_ACCOUNT_SID set, set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM as the sender',
    }),
  })
  // Checked on the whole object, so defaults count too: one address must not reach the account limit.
  .assert('.SIGN_IN_MAX_FAILURES_PER_ACCOUNT', Joi.number().greater(Joi.ref('SIGN_IN_MAX_FAILURES_PER_ADDRESS')))
  .messages({
    'object.assert':
      'SIGN_IN_MAX_FAILURES_PER_ACCOUNT (default 50) must be above SIGN_IN_MAX_FAILURES_PER_ADDRESS (default 20), so that one address cannot lock an account',
  })
  .unknown(true)
  .prefs({ abortEarly: false, convert: true });

/**
 * The project a command works in: the nearest directory holding `campaigns/`, from `cwd` upward
 * (as git finds its repository). The default data, campaigns and templates directories and the
 * `.env` file are taken from there, so a command run from any folder of the project finds the same
 * database; without one, the working directory stands in.
 */
export function findProjectRoot(cwd: string): string | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (fs.statSync(path.join(dir, 'campaigns'), { throwIfNoEntry: false })?.isDirectory()) return dir;
    if (dir === path.dirname(dir)) return undefined;
  }
}

/**
 * Reads the project's `.env` (if present) without overriding variables already set, then validates.
 * A relative path is read from where it was written: the `.env` file's folder for a value from that
 * file, the working directory for one from the environment.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const root = findProjectRoot(cwd);
  const home = root ?? path.resolve(cwd);
  const envFile = path.join(home, '.env');
  const fromFile = new Set<string>();
  if (env === process.env && fs.existsSync(envFile)) {
    for (const name of Object.keys(parseEnv(fs.readFileSync(envFile, 'utf8')))) if (env[name] === undefined) fromFile.add(name);
    process.loadEnvFile(envFile);
  }

  // `NAME=` (as in a copied .env.example) means "not set", not "set to nothing".
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const { value, error } = schema.validate(given);
  if (error) {
    throw new AppError('invalid_config', 'invalid environment', {
      details: error.details.map((d) => d.message),
    });
  }
  /** A path variable, relative to where it was written (the .env file's folder, or the working directory). */
  const resolved = (name: string): string | undefined =>
    value[name] === undefined ? undefined : path.resolve(fromFile.has(name) ? home : cwd, value[name] as string);
  /** A directory variable: where it says, else `fallback` in the project. */
  const directory = (name: string, fallback: string): string => resolved(name) ?? path.join(home, fallback);
  const mailFromDomain = addressDomain(value.MAIL_FROM as string);
  const dkim = readDkimKeys({
    domain: value.DKIM_DOMAIN?.toLowerCase() ?? mailFromDomain,
    selector: value.DKIM_SELECTOR,
    privateKey: value.DKIM_PRIVATE_KEY,
    privateKeyFile: resolved('DKIM_PRIVATE_KEY_FILE'),
    keysDir: resolved('DKIM_KEYS_DIR'),
  });
  if (dkim.problems.length > 0) throw new AppError('invalid_config', 'invalid environment', { details: dkim.problems });
  const dataDir = directory('TOUCHPOINT_DATA_DIR', 'var');
  const dataDirOrigin =
    value.TOUCHPOINT_DATA_DIR !== undefined
      ? `TOUCHPOINT_DATA_DIR=${value.TOUCHPOINT_DATA_DIR} (${fromFile.has('TOUCHPOINT_DATA_DIR') ? `from ${envFile}` : 'from the environment'})`
      : root
        ? `the var/ folder beside ${path.join(root, 'campaigns')}, the nearest campaigns/ folder from ${path.resolve(cwd)} upward`
        : `var/ in the working directory: no folder from ${path.resolve(cwd)} upward holds campaigns/`;
  const port = value.PORT as number;
  const publicUrl = (value.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  return {
    databaseUrl: value.DATABASE_URL,
    databasePoolSize: value.DATABASE_POOL_SIZE,
    dataDir,
    dataDirOrigin,
    campaignsDir: directory('CAMPAIGNS_DIR', 'campaigns'),
    templatesDir: directory('TEMPLATES_DIR', 'templates'),
    noticesDir: directory('NOTICES_DIR', 'notices'),
    consentReceipts: value.CONSENT_RECEIPTS,
    campaignMaxFileBytes: value.CAMPAIGN_MAX_FILE_BYTES,
    port,
    workerHttpPort: value.WORKER_HTTP_PORT,
    publicUrl,
    publicUrlConfigured: value.PUBLIC_URL !== undefined,
    secret: value.TOUCHPOINT_SECRET,
    smtpUrl: value.SMTP_URL,
    mailFrom: value.MAIL_FROM,
    dkimKeys: dkim.keys,
    feedbackIdSender: value.FEEDBACK_ID_SENDER ?? mailFromDomain ?? 'touchpoint',
    phoneRegion: value.DEFAULT_PHONE_REGION,
    smsHelpText: value.SMS_HELP_TEXT,
    testRecipients: value.TEST_RECIPIENTS ?? [],
    twilio: value.TWILIO_ACCOUNT_SID
      ? {
          accountSid: value.TWILIO_ACCOUNT_SID,
          authToken: value.TWILIO_AUTH_TOKEN,
          messagingServiceSid: value.TWILIO_MESSAGING_SERVICE_SID,
          from: value.TWILIO_FROM,
          apiUrl: value.TWILIO_API_URL,
        }
      : undefined,
    dispatch: {
      batchSize: value.DISPATCH_BATCH_SIZE,
      concurrency: value.DISPATCH_CONCURRENCY,
      maxAttempts: value.DISPATCH_MAX_ATTEMPTS,
      pollMs: value.DISPATCH_POLL_MS,
      retryBaseMs: value.DISPATCH_RETRY_BASE_MS,
      circuit: { failures: value.DISPATCH_CIRCUIT_FAILURES, probeMs: value.DISPATCH_CIRCUIT_PROBE_MS },
    },
    runBatchSize: value.RUN_BATCH_SIZE,
    stopTimeoutMs: value.STOP_TIMEOUT_MS,
    inbound: {
      domain: value.INBOUND_DOMAIN ?? new URL(publicUrl).hostname,
      smtpPort: value.INBOUND_SMTP_PORT,
      smtpHost: value.INBOUND_SMTP_HOST,
      webhookSecret: value.INBOUND_WEBHOOK_SECRET,
      maxBytes: value.INBOUND_MAX_BYTES,
      maxRecipients: value.INBOUND_SMTP_MAX_RECIPIENTS,
      maxConnectionsPerClient: value.INBOUND_SMTP_MAX_CONNECTIONS_PER_CLIENT,
    },
    signIn: {
      perAccountAndAddress: value.SIGN_IN_MAX_FAILURES,
      perAddress: value.SIGN_IN_MAX_FAILURES_PER_ADDRESS,
      perAccount: value.SIGN_IN_MAX_FAILURES_PER_ACCOUNT,
    },
    eventsMaxInFlight: value.EVENTS_MAX_IN_FLIGHT,
    logLevel: value.LOG_LEVEL,
    logFormat: value.LOG_FORMAT,
    uiTimeZone: value.UI_TIMEZONE,
  };
}
