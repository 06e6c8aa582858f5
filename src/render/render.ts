import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { compile } from 'html-to-text';
import YAML from 'yaml';
import { AppError } from '../errors.ts';

/** What a template sees: `lead`, `persona`, `campaign`, `event` and the per-message `unsubscribe_url`. */
export interface RenderContext {
  lead: Record<string, unknown>;
  persona: Record<string, unknown>;
  campaign: { id: string; name: string; step: string };
  /** Event campaigns only: the properties of the event that started the person's sequence. */
  event?: Record<string, unknown>;
  unsubscribe_url: string;
  /** Only in the double opt-in confirmation email. */
  confirm_url?: string;
  /** Only in sequences started by `contact_closed`: the satisfaction survey about that contact. */
  csat_link?: string;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

interface CompiledEmail {
  subject: HandlebarsTemplateDelegate;
  html: HandlebarsTemplateDelegate;
  text: HandlebarsTemplateDelegate | undefined;
}

/**
 * Strict mode makes a missing variable throw instead of leaving an empty hole in a customer's
 * message. An isolated Handlebars environment keeps marketers' templates away from any helper
 * registered elsewhere in the process.
 */
const handlebars = Handlebars.create();
/**
 * `{{plural lead.orders "Bestellung" "Bestellungen"}}`: the singular for 1, else the plural, so
 * a count reads right in any language with two forms.
 */
handlebars.registerHelper('plural', (count: unknown, one: unknown, other: unknown) => (Number(count) === 1 ? one : other));
const STRICT = { strict: true } as const;

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

/** How long a compiled template is used before its file is looked at again (wall time: this is about the disk). */
const RECHECK_MS = 1_000;

interface Compiled<T> {
  value: T;
  /** The file's modification time and size when it was compiled, and when that was last checked. */
  version: string;
  checkedAt: number;
}

/**
 * Compiles template files and keeps them compiled, like campaign files are kept loaded: a file
 * changed on disk is compiled again for the next message (its modification time and size are
 * looked at once a second, not per message), so a fixed template needs no restart.
 */
export class TemplateRenderer {
  private readonly cache = new Map<string, Compiled<CompiledEmail>>();
  private readonly smsCache = new Map<string, Compiled<HandlebarsTemplateDelegate>>();

  constructor(private readonly templatesDir: string) {}

  private current<T>(cache: Map<string, Compiled<T>>, name: string, compile: (source: string) => T): T {
    const now = Date.now();
    const cached = cache.get(name);
    if (cached && now - cached.checkedAt < RECHECK_MS) return cached.value;
    const file = path.join(this.templatesDir, name);
    const stat = fs.statSync(file);
    const version = `${stat.mtimeMs}:${stat.size}`;
    if (cached && cached.version === version) {
      cached.checkedAt = now;
      return cached.value;
    }
    const value = compile(fs.readFileSync(file, 'utf8'));
    cache.set(name, { value, version, checkedAt: now });
    return value;
  }

  /** Renders an email from a file name relative to the templates dir (see templates.ts). */
  renderEmail(name: string, context: RenderContext): RenderedEmail {
    const compiled = this.compileEmail(name);
    const subject = run(name, 'subject', () => compiled.subject(context));
    if (/[\r\n]/.test(subject)) throw new AppError('invalid_campaign', `${name}: the subject must be one line`);
    const html = run(name, 'body', () => compiled.html(context));
    const text = compiled.text ? run(name, 'text', () => compiled.text!(context)) : derivedText(html, context.unsubscribe_url);
    return { subject: subject.trim(), html, text };
  }

  /** Renders an SMS: the whole file is its plain text, one line (SMS carry no line breaks here). */
  renderSms(name: string, context: RenderContext): string {
    const compiled = this.current(this.smsCache, name, (source) => handlebars.compile(source, { ...STRICT, noEscape: true }));
    const text = run(name, 'text', () => compiled(context)).trim();
    if (/[\r\n]/.test(text)) throw new AppError('invalid_campaign', `${name}: an SMS must be one line`);
    return text;
  }

  private compileEmail(name: string): CompiledEmail {
    return this.current(this.cache, name, (source) => compileEmailSource(name, source));
  }
}

function compileEmailSource(name: string, source: string): CompiledEmail {
  const match = FRONT_MATTER.exec(source);
  const meta = match ? ((YAML.parse(match[1]!) as Record<string, unknown> | null) ?? {}) : {};
  if (typeof meta.subject !== 'string' || !meta.subject.trim()) {
    throw new AppError('invalid_campaign', `${name}: front matter needs a 'subject:'`);
  }
  const body = match ? source.slice(match[0].length) : source;
  return {
    // Subjects are plain text: escaping them would show `&amp;` to the reader.
    subject: handlebars.compile(meta.subject, { ...STRICT, noEscape: true }),
    html: handlebars.compile(body, STRICT),
    text: typeof meta.text === 'string' ? handlebars.compile(meta.text, { ...STRICT, noEscape: true }) : undefined,
  };
}

function run(name: string, part: string, fn: () => string): string {
  try {
    return fn();
  } catch (cause) {
    // Handlebars says `"first_name" not defined in [object Object]`; name the file and part instead.
    const detail = (cause as Error).message.replace(/ in \[object Object\]/g, '').split('\n')[0];
    throw new AppError('invalid_campaign', `${name} (${part}): ${detail}`, { cause });
  }
}

/** Compiled once: building the converter costs far more than converting one message. */
export const deriveText = compile({ wordwrap: 78, selectors: [{ selector: 'a', options: { hideLinkHrefIfSameAsText: true } }] });

/** Text parts derived, by their HTML with the unsubscribe link masked; emptied when full. */
const derived = new Map<string, string>();
const DERIVED_MAX = 2_000;

/** Where html-to-text changes words (upper case in headings and table headers): a masked link would not come back as it was. */
const CHANGES_WORDS = /<(h[1-6]|th)[\s>]/i;

/**
 * The text part of an email without one of its own, derived from its HTML. Converting HTML costs
 * more than everything else in rendering a message, and a run renders the same few variants for
 * everyone whose personal fields in them are alike; only the unsubscribe link differs in each. So
 * the link is masked with as many `x` (one word of the same length for html-to-text: the same
 * wrapping, nothing to escape or rewrite), the conversion of the masked HTML is remembered, and
 * the link is put back into its text. HTML where that could differ from converting it as it is
 * (no verbatim link, the mask already there, words changed, a mask run into other x) is converted
 * as it is.
 */
export function derivedText(html: string, link: string): string {
  const mask = 'x'.repeat(link.length);
  if (!link || /\s/.test(link) || /^(#|mailto:)/.test(link) || !html.includes(link) || html.includes(mask) || CHANGES_WORDS.test(html)) {
    return deriveText(html);
  }
  const masked = html.replaceAll(link, mask);
  let text = derived.get(masked);
  if (text === undefined) {
    text = deriveText(masked);
    if (text.includes(`x${mask}`) || text.includes(`${mask}x`)) return deriveText(html);
    if (derived.size >= DERIVED_MAX) derived.clear();
    derived.set(masked, text);
  }
  return text.replaceAll(mask, link);
}
