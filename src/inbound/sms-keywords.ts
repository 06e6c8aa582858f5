/**
 * Carrier and CTIA keywords an SMS reply may consist of (any case, surrounding spaces). Anything
 * else, "please stop" included, is a message for people, not a keyword.
 */
const OPT_OUT = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT']);
const OPT_IN = new Set(['START', 'UNSTOP']);

export type SmsKeyword = 'opt-out' | 'opt-in' | 'help';

/** The keyword of an inbound SMS; Twilio's `OptOutType` (set by Advanced Opt-Out) decides when present. */
export function smsKeyword(body: string, optOutType?: string): SmsKeyword | undefined {
  const type = optOutType?.trim().toUpperCase();
  if (type === 'STOP') return 'opt-out';
  if (type === 'START') return 'opt-in';
  if (type === 'HELP') return 'help';
  const word = body.trim().toUpperCase();
  if (OPT_OUT.has(word)) return 'opt-out';
  if (OPT_IN.has(word)) return 'opt-in';
  if (word === 'HELP' || word === 'INFO') return 'help';
  return undefined;
}
