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

/** The relative name of the most specific template file that exists, or null. */
export function findTemplate(
  templatesDir: string,
  template: string,
  persona: string,
  locale: string | null,
  channel: Channel,
): string | null {
  return templateCandidates(template, persona, locale, channel).find((name) => fs.existsSync(path.join(templatesDir, name))) ?? null;
}

/** Whether a lead of this persona gets some variant whatever its locale (a locale-free file exists). */
export function hasFallbackTemplate(templatesDir: string, template: string, persona: string, channel: Channel): boolean {
  return findTemplate(templatesDir, template, persona, null, channel) !== null;
}
