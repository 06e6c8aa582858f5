import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

/**
 * A phone number in E.164 (+4915112345678), or undefined when it is not a valid number. Numbers
 * written without a country code are read in `region` (DEFAULT_PHONE_REGION).
 */
export function toE164(raw: string, region?: string): string | undefined {
  const parsed = parsePhoneNumberFromString(raw, region as CountryCode | undefined);
  return parsed?.isValid() ? parsed.number : undefined;
}
