/**
 * Carrier and CTIA keywords an SMS reply may consist of (any case, surrounding spaces). Anything
 * else, "please stop" included, is a message for people, not a keyword.
 */
const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT']);
const OPT_IN = new Set(['START', 'UNSTOP']);
const HELP = new Set(['HELP', 'INFO']);

export type SmsKeyword = 'opt-out' | 'opt-in' | 'help';

/** The keyword of an inbound SMS; Twilio's `OptOutType` (set by Advanced Opt-Out) decides when present. */
export function smsKeyword(body: string, optOutType?: string): SmsKeyword | undefined {
  const type = optOutType?.trim().toUpperCase();
  if (type === 'STOP') return 'opt-out';
  if (type === 'START') return 'opt-in';
  if (type === 'HELP') return 'help';
  const word = bareKeyword(body);
  if (word === undefined) return undefined;
  return OPT_OUT.has(word) ? 'opt-out' : OPT_IN.has(word) ? 'opt-in' : 'help';
}

/**
 * The text as one of the keywords above (upper case), or undefined for anything else. Evidence
 * keeps this and never the text itself: a bare keyword from a fixed list says nothing about the
 * person, while a text that only Twilio's `OptOutType` classified may hold anything they wrote.
 */
export function bareKeyword(body: string): string | undefined {
  const word = body.trim().toUpperCase();
  return OPT_OUT.has(word) || OPT_IN.has(word) || HELP.has(word) ? word : undefined;
}
