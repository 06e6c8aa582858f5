// The sentiment module alone: natural's index would also load its database adapters and dotenv.
import { SentimentAnalyzer } from 'natural/lib/natural/sentiment/index.js';

/**
 * How a reply feels, from -1 (negative) to 1 (positive), by natural's lexicons, offline: AFINN-165
 * for English (word scores -5…5, so the average is divided by 5) and the German vocabulary of the
 * Pattern project (already -1…1), each with its language's negations ("nicht gut", "not good").
 */
const english = new SentimentAnalyzer('English', undefined, 'afinn');
const german = new SentimentAnalyzer('German', undefined, 'pattern');

const scorers: Record<'en' | 'de', (words: string[]) => number> = {
  en: (words) => english.getSentiment(words) / 5,
  de: (words) => german.getSentiment(words),
};

/**
 * The reply's score in the person's language when it is German or English; for anyone else both
 * lexicons read it and the stronger reading counts (a word neither knows scores 0). Null for a
 * reply without words.
 */
export function sentimentOf(text: string, language: string | null): number | null {
  const words = text.toLowerCase().match(/\p{L}+/gu);
  if (!words) return null;
  const score =
    language === 'en' || language === 'de'
      ? scorers[language](words)
      : [scorers.en(words), scorers.de(words)].reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a));
  return Math.round(Math.max(-1, Math.min(1, score)) * 1000) / 1000;
}
