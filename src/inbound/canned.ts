import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { statement, type Queryable } from '../db/statement.ts';
import { AppError } from '../errors.ts';

/**
 * Canned answers: `templates/replies/<name>[.<locale>].hbs`, plain text an agent starts from
 * (the reply form fills its text area with one, to be edited before sending; sending is the
 * ordinary answer of answer.ts). A template sees `lead` (the person's fields and attributes, only
 * those they have), `agent` (name, email) and `contact` (id, subject, queue, campaign). Rendering
 * is strict, as for campaign templates: a variable the person lacks is an error naming it, never
 * an empty hole; `{{#if lead.first_name}}` guards what may be missing.
 */
export const REPLIES_DIR = 'replies';
const NAME = /^[a-z0-9][a-z0-9-]{0,99}$/;
const FILE = /^([a-z0-9][a-z0-9-]{0,99})(?:\.([a-z]{2,3}(?:-[a-z0-9]{2,8})?))?\.hbs$/i;

export interface CannedAnswer {
  name: string;
  /** The languages it exists in besides the locale-free default (`de`, `de-at`). */
  locales: string[];
}

export interface RenderedAnswer {
  name: string;
  /** The variant used: the person's locale or language, or null for the locale-free one. */
  locale: string | null;
  text: string;
}

/** What a canned answer is rendered with. */
export interface CannedContext {
  lead: Record<string, unknown>;
  agent: { name: string; email: string };
  contact: { id: number; subject: string | null; queue: string | null; campaign: string | null };
  /** For acknowledgements: when the person will hear from us, as they read it. */
  reply_by?: string;
}

/** An isolated environment: no helper registered elsewhere reaches these templates. */
const handlebars = Handlebars.create();

/** The canned answers in the templates folder, by name. */
export function listCannedAnswers(templatesDir: string): CannedAnswer[] {
  const dir = path.join(templatesDir, REPLIES_DIR);
  if (!fs.existsSync(dir)) return [];
  const byName = new Map<string, string[]>();
  for (const file of fs.readdirSync(dir).sort()) {
    const match = FILE.exec(file);
    if (!match) continue;
    const locales = byName.get(match[1]!) ?? [];
    if (match[2]) locales.push(match[2].toLowerCase());
    byName.set(match[1]!, locales);
  }
  return [...byName].map(([name, locales]) => ({ name, locales }));
}

/** The file for a locale: `de-at`, then `de`, then the locale-free one; undefined when there is none. */
function cannedFile(templatesDir: string, name: string, locale: string | null): { file: string; locale: string | null } | undefined {
  const tag = (locale ?? '').trim().toLowerCase().replace(/_/g, '-');
  const language = tag.split('-')[0]!;
  const candidates = [...new Set([tag, language].filter(Boolean)), null];
  for (const candidate of candidates) {
    const file = path.join(templatesDir, REPLIES_DIR, candidate ? `${name}.${candidate}.hbs` : `${name}.hbs`);
    if (fs.existsSync(file)) return { file, locale: candidate };
  }
  return undefined;
}

/** Renders a canned answer in the person's language. Unknown names are 404; a variable the person lacks is 422. */
export function renderCannedAnswer(templatesDir: string, name: string, locale: string | null, context: CannedContext): RenderedAnswer {
  const found = NAME.test(name) ? cannedFile(templatesDir, name, locale) : undefined;
  if (!found) {
    const known = listCannedAnswers(templatesDir).map((a) => a.name);
    throw new AppError(
      'not_found',
      `no canned answer '${name}'; known: ${known.join(', ') || 'none'} (templates/${REPLIES_DIR}/<name>.hbs)`,
    );
  }
  const label = `${REPLIES_DIR}/${path.basename(found.file)}`;
  try {
    const template = handlebars.compile(fs.readFileSync(found.file, 'utf8'), { strict: true, noEscape: true });
    return { name, locale: found.locale, text: template(context).trim() };
  } catch (cause) {
    const detail = (cause as Error).message.replace(/ in \[object Object\]/g, '').split('\n')[0];
    throw new AppError('unprocessable', `${label}: ${detail}`, { cause });
  }
}

const PERSON = statement(
  'inbound.canned-person',
  `SELECT c.id, c.subject, c.queue, c.campaign_id AS campaign, l.first_name, l.last_name, l.email, l.phone, l.locale,
          coalesce(l.attributes, '{}') AS attributes
     FROM inbound_contacts c LEFT JOIN leads l ON l.id = c.lead_id WHERE c.id = $1`,
);

interface PersonRow {
  id: number;
  subject: string | null;
  queue: string | null;
  campaign: string | null;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  phone: string | null;
  locale: string | null;
  attributes: Record<string, unknown>;
}

/** What a canned answer for this contact sees of the person, and their locale. */
export async function cannedContextOf(
  db: Queryable,
  contactId: number,
  agent: CannedContext['agent'],
): Promise<{ locale: string | null; context: CannedContext }> {
  const { rows } = await db.query<PersonRow>(PERSON, [contactId]);
  const row = rows[0];
  if (!row) throw new AppError('not_found', `no inbound contact ${contactId}`);
  const { id, subject, queue, campaign, attributes, ...fields } = row;
  // Fields the person lacks are left out, so strict rendering names them instead of writing nothing.
  const known = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null));
  return { locale: row.locale, context: { lead: { ...attributes, ...known }, agent, contact: { id, subject, queue, campaign } } };
}
