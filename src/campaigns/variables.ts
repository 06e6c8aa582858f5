import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../errors.ts';
import type { DataKeys } from '../leads/data-keys.ts';
import { LEAD_FIELDS } from '../leads/types.ts';
import { templateVariables } from '../render/variables.ts';
import { DEFAULT_MAX_FILE_BYTES, readYamlFile } from '../yaml/positions.ts';
import type { Problem } from '../yaml/problems.ts';
import { channelsOf } from './decide.ts';
import type { CampaignSet } from './set.ts';
import type { Campaign } from './types.ts';

/** Always in a lead's context besides its fields and attributes (campaigns/compose.ts). */
const LEAD_EXTRAS = ['tags'];
const CAMPAIGN_KEYS = new Set(['id', 'name', 'step']);

/**
 * Warnings for template variables nothing provides, which would fail every message that reads
 * them (`{{lead.firstname}}` for `first_name`): a lead field, an attribute seen in the database,
 * a persona key, the trigger event's properties seen so far. Variables tested by `#if`/`#unless`
 * are expected to be missing at times and pass. Without `seen` (offline) attributes and event
 * properties are unknown, so only what is certain is reported. Each warning points at the step's
 * `template`.
 */
export function templateVariableWarnings(
  set: CampaignSet,
  templatesDir: string,
  seen: DataKeys | undefined,
  maxFileBytes = DEFAULT_MAX_FILE_BYTES,
): Problem[] {
  const personaKeys = new Set(set.personas.flatMap((p) => Object.keys(p).filter((k) => k !== 'match')));
  const warnings: Problem[] = [];
  for (const campaign of set.campaigns.values()) {
    const found: { step: number; message: string }[] = [];
    campaign.steps.forEach((step, i) => {
      const channels = channelsOf(step.channel);
      const dir = path.join(templatesDir, step.template);
      if (!fs.existsSync(dir)) return;
      for (const file of fs.readdirSync(dir).sort()) {
        if (!channels.some((c) => file.endsWith(`.${c}.hbs`))) continue;
        const name = `${path.basename(templatesDir)}/${step.template}/${file}`;
        let variables;
        try {
          variables = templateVariables(fs.readFileSync(path.join(dir, file), 'utf8'));
        } catch (err) {
          found.push({ step: i, message: `${name} cannot be parsed: ${errorMessage(err).split('\n')[0]}` });
          continue;
        }
        for (const v of variables) {
          const why = v.guarded ? undefined : unprovided(v.path, campaign, personaKeys, seen);
          if (why) found.push({ step: i, message: `${name} reads {{${v.path.join('.')}}}, which ${why}` });
        }
      }
    });
    if (found.length === 0) continue;
    const { yaml } = readYamlFile(campaign.file, maxFileBytes);
    for (const f of found) warnings.push(yaml.problem(['steps', f.step, 'template'], f.message, 'value', 'warning'));
  }
  return warnings;
}

const loose = (name: string) => name.toLowerCase().replace(/[_-]/g, '');

/** Why nothing provides this variable, or undefined when something does (or cannot be known offline). */
function unprovided(variable: string[], campaign: Campaign, personaKeys: Set<string>, seen: DataKeys | undefined): string | undefined {
  const [root, key] = variable;
  if (root === 'unsubscribe_url') return undefined;
  if (root === 'csat_link') {
    return campaign.trigger?.event === 'contact_closed'
      ? undefined
      : 'only sequences triggered by contact_closed have (the survey about the contact closed)';
  }
  if (key === undefined) return `is not a value (use ${root}.<name>)`;
  switch (root) {
    case 'lead': {
      if (key in LEAD_FIELDS || LEAD_EXTRAS.includes(key) || seen?.attributes.has(key)) return undefined;
      // Offline any name may be an attribute, except one that is a lead field written differently.
      const field = Object.keys(LEAD_FIELDS).find((f) => loose(f) === loose(key));
      if (!seen && !field) return undefined;
      const hint = field ? `; did you mean lead.${field}?` : '';
      return `no lead field${seen ? ' and no attribute of any lead in the database' : ''} provides${hint}`;
    }
    case 'persona':
      return personaKeys.has(key) ? undefined : `no persona in personas.yaml has (keys: ${[...personaKeys].join(', ')})`;
    case 'campaign':
      return CAMPAIGN_KEYS.has(key) ? undefined : `is not one of campaign.id, campaign.name, campaign.step`;
    case 'event': {
      if (campaign.kind !== 'event') return 'only event campaigns have (the properties of the event that started the sequence)';
      const properties = seen?.properties.get(campaign.trigger!.event);
      if (!seen || properties?.has(key)) return undefined;
      return `no '${campaign.trigger!.event}' event in the database has as a property`;
    }
    default:
      return `is not in a template's context (lead, persona, campaign, event, unsubscribe_url, csat_link)`;
  }
}
