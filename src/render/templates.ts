import fs from 'node:fs';
import path from 'node:path';
import type { Channel } from '../channels/channel.ts';
import { DEFAULT_PERSONA } from '../leads/personas.ts';

/**
 * Template files are `templates/<template>/<persona|default>[.<locale>].<channel>.hbs`.
 * Language beats persona: a German reader is better served by the German default than by the
 * English text of their persona, so every locale-specific file comes before any locale-free one.
 */
export function templateCandidates(template: string, persona: string, locale: string | null, channel: Channel): string[] {
  const locales: string[] = [];
  if (locale) {
    locales.push(locale);
    const language = locale.split(/[-_]/)[0]!;
    if (language !== locale) locales.push(language);
  }
  const owners = persona === DEFAULT_PERSONA ? [DEFAULT_PERSONA] : [persona, DEFAULT_PERSONA];
  const names: string[] = [];
  for (const loc of locales) for (const owner of owners) names.push(`${owner}.${loc}`);
  for (const owner of owners) names.push(owner);
  return names.map((n) => `${template}/${n}.${channel}.hbs`);
}

/** The locale a template file name is for (`default.de.email.hbs` → `de`), or null for a locale-free one. */
export function templateLocale(name: string): string | null {
  const parts = path.basename(name).split('.');
  return parts.length === 4 ? parts[1]! : null;
}

/** The relative name of the most specific template file that exists, or null. */
export function findTemplate(
  templatesDir: string,
  template: string,
  persona: string,
  locale: string | null,
  channel: Channel,
): string | null {
  const key = `${templatesDir}\0${template}\0${persona}\0${locale}\0${channel}`;
  const now = Date.now();
  const hit = found.get(key);
  if (hit && now - hit.at < FRESH_MS) return hit.name;
  // Locales are lead data: keys can be many, the cache stays small.
  if (found.size >= 10_000) found.clear();
  const name = templateCandidates(template, persona, locale, channel).find((n) => fs.existsSync(path.join(templatesDir, n))) ?? null;
  found.set(key, { name, at: now });
  return name;
}

/** How long an answer about template files is trusted: a file added or removed counts within this. */
const FRESH_MS = 1_000;

/**
 * Answers remembered for a second: plans and runs ask the same question for every recipient of a
 * persona and locale, a million times in a big campaign, and the file-system calls behind each
 * answer cost more than everything else they do per person. (Wall time, not the injected clock:
 * this is about the disk, not about when a message is due.)
 */
const found = new Map<string, { name: string | null; at: number }>();

/** Whether a lead of this persona gets some variant whatever its locale (a locale-free file exists). */
export function hasFallbackTemplate(templatesDir: string, template: string, persona: string, channel: Channel): boolean {
  return findTemplate(templatesDir, template, persona, null, channel) !== null;
}
