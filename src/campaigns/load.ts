import fs from 'node:fs';
import path from 'node:path';
import type { Channel } from '../channels/channel.ts';
import { AppError, errorMessage } from '../errors.ts';
import { DEFAULT_INBOUND, INBOUND_FILE, loadInboundRules, type CampaignSource } from '../inbound/rules.ts';
import { DEFAULT_PERSONA, type Persona } from '../leads/personas.ts';
import { hasFallbackTemplate } from '../render/templates.ts';
import { DEFAULT_MAX_FILE_BYTES, readYamlFile, validateYaml, type YamlFile } from '../yaml/positions.ts';
import type { Problem } from '../yaml/problems.ts';
import { channelsOf } from './decide.ts';
import { checkContactEvents, checkEventNames } from './event-lint.ts';
import type { CampaignSet } from './set.ts';
import type { Campaign, StepChannel } from './types.ts';
import { campaignSchema, personasSchema } from './yaml-schema.ts';

export const PERSONAS_FILE = 'personas.yaml';
/** Not campaigns: personas, and the service team's queues and rules. */
const RESERVED_FILES = new Set([PERSONAS_FILE, INBOUND_FILE]);

export interface LoadOptions {
  campaignsDir: string;
  templatesDir: string;
  /** A larger file is a problem and is not read (CAMPAIGN_MAX_FILE_BYTES). */
  maxFileBytes?: number;
  /** Only these files, a folder meaning its YAML files (personas.yaml is still read for reference checks). */
  files?: string[];
}

/** The YAML files of a folder, in name order. */
function yamlFilesIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Files named on a command line, as absolute paths; a folder stands for its YAML files. */
function namedFiles(files: string[]): string[] {
  return files
    .map((f) => path.resolve(f))
    .flatMap((f) => (fs.statSync(f, { throwIfNoEntry: false })?.isDirectory() ? yamlFilesIn(f) : [f]));
}

/**
 * Loads every campaign file and personas.yaml, collecting all problems at once. A campaign with
 * errors is left out of `campaigns`; every other one is kept, so one broken file never hides the
 * rest. Nothing in a file makes this throw: whatever goes wrong is a problem of that file.
 */
export function loadCampaignSet(options: LoadOptions): CampaignSet {
  const { campaignsDir, templatesDir, maxFileBytes = DEFAULT_MAX_FILE_BYTES } = options;
  const problems: Problem[] = [];
  const campaigns = new Map<string, Campaign>();

  if (!fs.existsSync(campaignsDir)) {
    problems.push({ file: campaignsDir, line: 1, col: 1, message: 'campaigns directory does not exist', severity: 'error' });
    return { campaigns, personas: [], problems, files: new Map(), inbound: DEFAULT_INBOUND };
  }
  const personasPath = path.join(campaignsDir, PERSONAS_FILE);
  const personas = fs.existsSync(personasPath) ? loadPersonas(personasPath, maxFileBytes, problems) : [];
  const inboundPath = path.join(campaignsDir, INBOUND_FILE);

  const named = options.files && namedFiles(options.files);
  const files = (named ?? yamlFilesIn(campaignsDir)).filter((f) => !RESERVED_FILES.has(path.basename(f)));

  const declared = new Map<string, string>();
  const sources: CampaignSource[] = [];
  for (const file of files) {
    if (!fs.existsSync(file)) {
      problems.push({ file, line: 1, col: 1, message: 'file does not exist', severity: 'error' });
      continue;
    }
    const fileProblems: Problem[] = [];
    try {
      const { yaml, campaign } = loadCampaign(file, { personas, templatesDir, maxFileBytes }, fileProblems);
      const id = yaml.declared(['id']);
      if (typeof id === 'string') {
        const first = declared.get(id);
        if (first) fileProblems.push(yaml.problem(['id'], `campaign id '${id}' is already used by ${path.basename(first)}`));
        else declared.set(id, file);
      }
      if (campaign && !fileProblems.some((p) => p.severity === 'error')) {
        campaigns.set(campaign.id, campaign);
        sources.push({ campaign, yaml });
      }
    } catch (err) {
      // Whatever else goes wrong with one file (a template folder that cannot be read, say) is that file's problem.
      fileProblems.push({ file, line: 1, col: 1, message: `cannot be checked: ${errorMessage(err)}`, severity: 'error' });
    }
    problems.push(...fileProblems);
  }
  const wantsInbound = !named || named.includes(inboundPath);
  const inbound = wantsInbound ? loadInboundRules(campaignsDir, sources, { maxFileBytes, templatesDir }, problems) : DEFAULT_INBOUND;
  problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  return { campaigns, personas, problems, files: declared, inbound };
}

/** The campaign with this id, or an error that lists its file's problems. */
export function requireCampaign(set: CampaignSet, id: string): Campaign {
  const campaign = set.campaigns.get(id);
  if (campaign) return campaign;
  const file = set.files.get(id);
  const broken = set.problems.filter((p) => p.severity === 'error' && p.file === file);
  if (broken.length > 0) {
    throw new AppError('invalid_campaign', `campaign '${id}' has problems`, {
      details: broken.map((p) => `${path.relative(process.cwd(), p.file)}:${p.line}:${p.col} ${p.message}`),
    });
  }
  throw new AppError('not_found', `no campaign '${id}'; known: ${[...set.campaigns.keys()].join(', ') || 'none'}`);
}

function loadPersonas(file: string, maxFileBytes: number, problems: Problem[]): Persona[] {
  const { yaml, problems: syntax } = readYamlFile(file, maxFileBytes);
  problems.push(...syntax);
  if (yaml.data === undefined) return [];
  const parsed = validateYaml<{ personas: Persona[] }>(yaml, personasSchema, problems);
  return parsed?.personas ?? [];
}

function loadCampaign(
  file: string,
  context: { personas: Persona[]; templatesDir: string; maxFileBytes: number },
  problems: Problem[],
): { yaml: YamlFile; campaign?: Campaign } {
  const { personas, templatesDir } = context;
  const { yaml, problems: syntax } = readYamlFile(file, context.maxFileBytes);
  problems.push(...syntax);
  if (yaml.data === undefined) return { yaml };
  if (typeof yaml.data !== 'object' || yaml.data === null || Array.isArray(yaml.data)) {
    problems.push(yaml.problem([], 'a campaign file must be a mapping of keys (id, name, kind, …)'));
    return { yaml };
  }
  const campaign = validateYaml<Omit<Campaign, 'file'>>(yaml, campaignSchema, problems);
  checkReferences(yaml, personas, templatesDir, problems);
  checkContactEvents(yaml, problems);
  checkEventNames(yaml, problems);
  if (!campaign) return { yaml };
  return { yaml, campaign: { ...campaign, file } };
}

/**
 * Persona ids exist, and every persona the campaign can reach has a template on every channel.
 * Runs on the raw document, even when the schema found mistakes elsewhere, so a marketer sees every
 * problem at once; hence the shape guards.
 */
function checkReferences(yaml: YamlFile, personas: Persona[], templatesDir: string, problems: Problem[]): void {
  const data = yaml.data as { audience?: { personas?: unknown }; steps?: unknown };
  const known = new Set(personas.map((p) => p.id));
  const audiencePersonas = Array.isArray(data.audience?.personas) ? (data.audience.personas as unknown[]) : undefined;
  audiencePersonas?.forEach((id, i) => {
    if (typeof id === 'string' && !known.has(id)) {
      problems.push(
        yaml.problem(['audience', 'personas', i], `unknown persona '${id}'; personas.yaml defines: ${[...known].join(', ') || 'none'}`),
      );
    }
  });
  const reachable = audiencePersonas
    ? audiencePersonas.filter((id): id is string => typeof id === 'string' && known.has(id))
    : [...personas.map((p) => p.id), ...(personas.some((p) => !p.match) ? [] : [DEFAULT_PERSONA])];
  const steps = Array.isArray(data.steps) ? (data.steps as { channel?: unknown; template?: unknown }[]) : [];
  const marketing = (yaml.data as { purpose?: unknown }).purpose === 'marketing';
  steps.forEach((step, i) => {
    if (typeof step?.template !== 'string' || !['email', 'sms', 'preferred'].includes(step.channel as string)) return;
    for (const channel of channelsOf(step.channel as StepChannel)) {
      if (marketing) {
        for (const problem of marketingLint(templatesDir, step.template, channel))
          problems.push(yaml.problem(['steps', i, 'template'], problem));
      }
      for (const persona of reachable) {
        if (hasFallbackTemplate(templatesDir, step.template, persona, channel)) continue;
        problems.push(
          yaml.problem(
            ['steps', i, 'template'],
            `template '${step.template}' has no ${channel} variant for persona '${persona}' ` +
              `(looked for ${path.basename(templatesDir)}/${step.template}/${persona}.${channel}.hbs or default.${channel}.hbs)`,
          ),
        );
      }
    }
  });
}

const UNSUBSCRIBE_LINK = /\{\{\{?\s*unsubscribe_url\s*\}\}\}?/;
const OPT_OUT_WORDING = /\b(stop|stopp|opt[ -]?out|unsubscribe|abmelden|désabonner|end)\b/i;

/**
 * Compliance lint for marketing: every email variant must carry the unsubscribe link, every SMS
 * variant must tell people how to opt out. Every variant is read (any locale), because any one of
 * them may be the one a person gets.
 */
function marketingLint(templatesDir: string, template: string, channel: Channel): string[] {
  const dir = path.join(templatesDir, template);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(`.${channel}.hbs`))
    .sort()
    .flatMap((f) => {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      const name = `${path.basename(templatesDir)}/${template}/${f}`;
      if (channel === 'email' && !UNSUBSCRIBE_LINK.test(text)) return [`marketing email template ${name} has no {{unsubscribe_url}} link`];
      if (channel === 'sms' && !OPT_OUT_WORDING.test(text))
        return [`marketing SMS template ${name} does not say how to opt out (e.g. "Reply STOP to opt out")`];
      return [];
    });
}
