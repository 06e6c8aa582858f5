import fs from 'node:fs';
import path from 'node:path';
import Joi from 'joi';
import type { Campaign } from '../campaigns/types.ts';
import type { Channel } from '../channels/channel.ts';
import { readYamlFile, validateYaml, type YamlFile } from '../yaml/positions.ts';
import type { Problem } from '../yaml/problems.ts';
import { duration, HHMM, id, timezone } from '../yaml/schema.ts';
import { listCannedAnswers, REPLIES_DIR } from './canned.ts';
import { CONTACT_CATEGORIES, PRIORITIES, type ContactCategory, type Priority } from './schema.ts';

/**
 * `campaigns/inbound.yaml`: the service team's queues (members, queue lead, service level) and the
 * rules that qualify a reply (category, priority, queue). Rules are tried in order; the first whose
 * every condition holds wins. Validated like campaign files, with `path:line:col` problems.
 */
export const INBOUND_FILE = 'inbound.yaml';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface BusinessHours {
  days: Weekday[];
  from: string;
  to: string;
  timezone: string;
}

export interface Queue {
  id: string;
  name?: string;
  /** Login (email) of the person overdue contacts escalate to. */
  lead?: string;
  /** Logins of the people contacts are assigned to. */
  members: string[];
  /** What members can besides languages (their login → skills): a rule can require a skill. */
  skills: Record<string, string[]>;
  service_level: { first_response: string; business_hours?: BusinessHours };
}

export interface Rule {
  id: string;
  match: { text?: string[]; campaign?: string[]; persona?: string[]; language?: string[]; channel?: Channel[] };
  category: ContactCategory;
  priority?: Priority;
  queue?: string;
  /** Skills the person assigned must have, every one (see assign.ts). */
  skills?: string[];
  /**
   * Answer the person at once with when they will hear from us (acknowledge.ts): `true` for the
   * built-in words in their language, or the name of a canned answer (templates/replies/<name>.hbs),
   * which also sees `reply_by`.
   */
  acknowledge?: boolean | string;
}

export interface InboundRules {
  default_queue: string;
  queues: Queue[];
  rules: Rule[];
}

/** With no inbound.yaml, replies still arrive: all in one queue, answered within a day. */
export const DEFAULT_INBOUND: InboundRules = {
  default_queue: 'inbox',
  queues: [{ id: 'inbox', members: [], skills: {}, service_level: { first_response: '1d' } }],
  rules: [],
};

const list = (item: Joi.Schema) => Joi.alternatives(item, Joi.array().items(item).min(1).max(100));
const email = Joi.string().email({ tlds: false }).lowercase();
/** A member: a login, or a login with skills (`{ user: ann@example.com, skills: [complaints] }`). */
const member = Joi.alternatives(email, Joi.object({ user: email.required(), skills: Joi.array().items(id).unique().max(50).default([]) }));
type Member = string | { user: string; skills: string[] };
const login = (m: Member) => (typeof m === 'string' ? m : m.user);

const schema = Joi.object({
  default_queue: id.required(),
  queues: Joi.array()
    .items(
      Joi.object({
        id: id.required(),
        name: Joi.string().max(200),
        lead: email,
        members: Joi.array()
          .items(member)
          .unique((a: Member, b: Member) => login(a) === login(b))
          .max(500)
          .default([]),
        service_level: Joi.object({
          first_response: duration.required(),
          business_hours: Joi.object({
            days: Joi.array()
              .items(Joi.string().valid(...WEEKDAYS))
              .unique()
              .min(1)
              .required(),
            from: Joi.string().pattern(HHMM).required(),
            to: Joi.string().pattern(HHMM).required(),
            timezone: timezone.required(),
          }),
        }).required(),
      }),
    )
    .min(1)
    .unique('id')
    .required(),
  rules: Joi.array()
    .items(
      Joi.object({
        id: id.required(),
        match: Joi.object({
          text: list(Joi.string().min(1).max(500)),
          campaign: list(id),
          persona: list(id),
          language: list(Joi.string().pattern(/^[a-z]{2,3}$/)),
          channel: list(Joi.string().valid('email', 'sms')),
        })
          .min(1)
          .required(),
        category: Joi.string()
          .valid(...CONTACT_CATEGORIES)
          .required(),
        priority: Joi.string().valid(...PRIORITIES),
        queue: id,
        skills: list(id),
        acknowledge: Joi.alternatives(Joi.boolean(), id),
      }),
    )
    .unique('id')
    .default([]),
});

/** A loaded campaign with its file, so that a problem of its `reply_queue` points at that line. */
export interface CampaignSource {
  campaign: Campaign;
  yaml: YamlFile;
}

/** Loads inbound.yaml from the campaigns folder; problems go to `problems`, defaults when absent or broken. */
export function loadInboundRules(
  campaignsDir: string,
  campaigns: Iterable<CampaignSource>,
  options: { maxFileBytes: number; templatesDir: string },
  problems: Problem[],
): InboundRules {
  const { maxFileBytes } = options;
  const file = path.join(campaignsDir, INBOUND_FILE);
  if (!fs.existsSync(file)) return DEFAULT_INBOUND;
  const { yaml, problems: syntax } = readYamlFile(file, maxFileBytes);
  problems.push(...syntax);
  if (yaml.data === undefined) return DEFAULT_INBOUND;
  const found: Problem[] = [];
  const parsed = validateYaml<InboundRules & { queues: (Queue & { members: Member[] })[] }>(yaml, schema, found);
  // Checked as written (a single value or a list), so that a problem points at the item.
  const written = parsed && { ...parsed, queues: parsed.queues.map(normaliseQueue) };
  if (written) checkInbound(yaml, written, campaigns, options.templatesDir, found);
  problems.push(...found);
  if (!written || found.some((p) => p.severity === 'error')) return DEFAULT_INBOUND;
  return { ...written, rules: written.rules.map(normaliseRule) };
}

/** Members as logins, their skills beside them: everything else asks only who serves a queue. */
function normaliseQueue(queue: Omit<Queue, 'members' | 'skills'> & { members: Member[] }): Queue {
  return {
    ...queue,
    members: queue.members.map(login),
    skills: Object.fromEntries(queue.members.map((m) => [login(m), typeof m === 'string' ? [] : m.skills])),
  };
}

function checkInbound(
  yaml: YamlFile,
  rules: InboundRules,
  campaigns: Iterable<CampaignSource>,
  templatesDir: string,
  problems: Problem[],
): void {
  const queues = new Set(rules.queues.map((q) => q.id));
  const known = `defined queues: ${[...queues].join(', ')}`;
  if (!queues.has(rules.default_queue)) problems.push(yaml.problem(['default_queue'], `unknown queue '${rules.default_queue}'; ${known}`));
  const skills = new Set(rules.queues.flatMap((q) => Object.values(q.skills).flat()));
  rules.rules.forEach((rule, i) => {
    if (rule.queue && !queues.has(rule.queue))
      problems.push(yaml.problem(['rules', i, 'queue'], `unknown queue '${rule.queue}'; ${known}`));
    [rule.skills ?? []].flat().forEach((skill, j) => {
      if (skills.has(skill)) return;
      const at = Array.isArray(rule.skills) ? ['rules', i, 'skills', j] : ['rules', i, 'skills'];
      problems.push(
        yaml.problem(
          at,
          `no member of any queue has the skill '${skill}'; its contacts go to the queue lead (give a member \`{ user: <login>, skills: [${skill}] }\`)`,
          'value',
          'warning',
        ),
      );
    });
    if (typeof rule.acknowledge === 'string' && !listCannedAnswers(templatesDir).some((a) => a.name === rule.acknowledge)) {
      problems.push(
        yaml.problem(
          ['rules', i, 'acknowledge'],
          `no canned answer '${rule.acknowledge}' (templates/${REPLIES_DIR}/${rule.acknowledge}.hbs); use one of them or true for the built-in words`,
        ),
      );
    }
    [rule.match.text ?? []].flat().forEach((pattern, j) => {
      const error = patternError(pattern);
      if (error)
        problems.push(
          yaml.problem(Array.isArray(rule.match.text) ? ['rules', i, 'match', 'text', j] : ['rules', i, 'match', 'text'], error),
        );
    });
  });
  rules.queues.forEach((queue, i) => {
    const hours = queue.service_level.business_hours;
    if (hours && hours.from >= hours.to) {
      problems.push(
        yaml.problem(
          ['queues', i, 'service_level', 'business_hours', 'to'],
          `business hours must end after they start (${hours.from}–${hours.to})`,
        ),
      );
    }
  });
  for (const { campaign, yaml: source } of campaigns) {
    if (campaign.reply_queue && !queues.has(campaign.reply_queue)) {
      problems.push(
        source.problem(
          ['reply_queue'],
          `reply queue '${campaign.reply_queue}' is not defined in ${INBOUND_FILE} (queues: ${[...queues].join(', ')}); replies go to its default queue`,
          'value',
          'warning',
        ),
      );
    }
  }
}

/** `/…/flags` is a regular expression; anything else matches as a phrase, ignoring case. */
function compilePattern(pattern: string): RegExp {
  const regex = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  if (regex) return new RegExp(regex[1]!, regex[2]!.includes('i') ? regex[2] : `${regex[2]}i`);
  const phrase = pattern.trim();
  const escaped = phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+');
  // Whole words: "order" does not match "border"; a phrase edge that is punctuation ("?") needs no boundary.
  const wordy = /[\p{L}\p{N}]/u;
  const before = wordy.test(phrase[0]!) ? '(?<![\\p{L}\\p{N}])' : '';
  const after = wordy.test(phrase.at(-1)!) ? '(?![\\p{L}\\p{N}])' : '';
  return new RegExp(`${before}${escaped}${after}`, 'iu');
}

function patternError(pattern: string): string | undefined {
  try {
    compilePattern(pattern);
    return undefined;
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message}`;
  }
}

const asList = <T>(value: T | T[] | undefined): T[] | undefined => (value === undefined ? undefined : ([value].flat() as T[]));

function normaliseRule(rule: Rule): Rule {
  const m = rule.match as Record<string, unknown>;
  return {
    ...rule,
    match: {
      text: asList(m.text as string | string[]),
      campaign: asList(m.campaign as string | string[]),
      persona: asList(m.persona as string | string[]),
      language: asList(m.language as string | string[]),
      channel: asList(m.channel as Channel),
    },
    skills: asList(rule.skills as string | string[] | undefined),
  };
}

export interface Qualification {
  category: ContactCategory;
  priority: Priority;
  queue: string;
  rule: string | null;
  /** Skills the assignee must have. */
  skills: string[];
}

export interface QualifyInput {
  text: string;
  channel: Channel;
  campaign: Campaign | undefined;
  persona: string | undefined;
  language: string | undefined;
}

const compiled = new WeakMap<Rule, RegExp[]>();

/** Category, priority and queue for a reply: the first matching rule, else `other` in the campaign's reply queue. */
export function qualify(rules: InboundRules, input: QualifyInput): Qualification {
  const fallbackQueue =
    input.campaign?.reply_queue && rules.queues.some((q) => q.id === input.campaign!.reply_queue)
      ? input.campaign.reply_queue
      : rules.default_queue;
  for (const rule of rules.rules) {
    const m = rule.match;
    if (m.campaign && !(input.campaign && m.campaign.includes(input.campaign.id))) continue;
    if (m.persona && !(input.persona && m.persona.includes(input.persona))) continue;
    if (m.language && !(input.language && m.language.includes(input.language))) continue;
    if (m.channel && !m.channel.includes(input.channel)) continue;
    if (m.text) {
      let patterns = compiled.get(rule);
      if (!patterns) compiled.set(rule, (patterns = m.text.map(compilePattern)));
      if (!patterns.some((p) => p.test(input.text))) continue;
    }
    return {
      category: rule.category,
      priority: rule.priority ?? 'normal',
      queue: rule.queue ?? fallbackQueue,
      rule: rule.id,
      skills: rule.skills ?? [],
    };
  }
  return { category: 'other', priority: 'normal', queue: fallbackQueue, rule: null, skills: [] };
}
