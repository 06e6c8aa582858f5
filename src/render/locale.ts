import type { Channel } from '../channels/channel.ts';
import { de } from './locales/de.ts';
import { en, type Catalogue } from './locales/en.ts';

/**
 * The language Touchpoint speaks to a person in: their lead's locale when we ship it, else its
 * language (`de-AT` → `de`), else English. Marketers' templates have their own locale variants
 * (templates.ts); this is for the words of our own pages and answers.
 */
const SHIPPED: Record<string, Catalogue> = { en, de };

export interface Language {
  /** The BCP 47 tag of what is said, for `<html lang>`. */
  lang: string;
  text: Catalogue;
}

export function languageFor(locale: string | null | undefined): Language {
  const tag = (locale ?? '').trim().toLowerCase().replace(/_/g, '-');
  const language = tag.split('-')[0]!;
  const lang = Object.hasOwn(SHIPPED, tag) ? tag : Object.hasOwn(SHIPPED, language) ? language : 'en';
  return { lang, text: SHIPPED[lang]! };
}

/** A catalogue text with its `{name}` placeholders filled in. */
export function say(text: string, values: Record<string, string>): string {
  return text.replace(/\{(\w+)\}/g, (placeholder, name: string) => (Object.hasOwn(values, name) ? values[name]! : placeholder));
}

/** A purpose's messages on a channel, as the catalogue says it (`marketing emails`, `Werbe-E-Mails`). */
export function whatOf(text: Catalogue, purpose: string, channel: Channel): string {
  return say(text.what, {
    purpose: Object.hasOwn(text.purposes, purpose) ? text.purposes[purpose]! : purpose,
    channel: text.channels[channel],
  });
}
