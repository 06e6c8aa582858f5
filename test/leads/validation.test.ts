import { expect } from 'chai';
import fc from 'fast-check';
import { fastLeadRecord, leadRecordSchema } from '../../src/leads/validation.ts';

/** Joi's verdict alone: the converted value, or undefined when it refuses the record. */
function joiVerdict(record: unknown): unknown {
  const { value, error } = leadRecordSchema.validate(record, { abortEarly: false, convert: true });
  return error ? undefined : value;
}

/** Values near the edges of each rule: valid ones, and ones a careless check would let through. */
const text = (valid: string[], invalid: string[]) =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...valid), weight: 8 },
    { arbitrary: fc.constantFrom(...invalid), weight: 1 },
    { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
  );
const emails = text(
  ['anna@example.com', 'Anna.Alt@Example.COM', ' b+tag@mail.example.de ', "o'neil@x.io", 'a_b@sub-domain.example.org'],
  [
    'not-an-email',
    'a@b',
    'a..b@example.com',
    '.a@example.com',
    'a@-example.com',
    'a@example-.com',
    'a@example.c0m',
    'a@example.123',
    'a@@example.com',
    'ä@example.com',
    'a@exa_mple.com',
    `${'x'.repeat(65)}@example.com`,
    `a@${'d'.repeat(64)}.com`,
    `${'x'.repeat(60)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.com`,
    '',
    ' ',
  ],
);
const phones = text(['+49 151 12345678', '0151 12345678', '(030) 1234-567', '12345'], ['+49', 'abc', '+4915112345678901234567890', '']);
const names = text(['Anna', ' Alt ', 'x'.repeat(200)], ['', '   ', 'x'.repeat(201)]);
const locales = text(['de', 'de-DE', 'en_gb', 'fra'], ['english', 'DE', 'de-', ' de', '']);
const zones = text(['Europe/Berlin', 'UTC', 'America/New_York'], ['Mars/Base', 'europe/berlin', ' Europe/Berlin', '']);
const personas = text(['loyalist', 'bargain-hunter', 'vip2'], ['Loyalist', 'a--b', '-a', '']);
const ids = text(['a-1', ' c-2 ', 'x'.repeat(200)], ['', '  ', 'x'.repeat(201)]);
const attributeValue = fc.oneof(
  { arbitrary: fc.string({ maxLength: 5 }), weight: 4 },
  fc.constantFrom('', 'x'.repeat(2000), 'x'.repeat(2001)),
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -0, Infinity, NaN),
  fc.boolean(),
  fc.constantFrom(null, [], {}),
);
const attributeKey = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('', 'k'.repeat(100), 'k'.repeat(101)));
const attributes = fc.oneof(
  fc.dictionary(attributeKey, attributeValue, { maxKeys: 4 }),
  fc.constantFrom(null, [], 'x', Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]))),
);
const tags = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom('customer', ' vip ', '', 'x'.repeat(101)), fc.string({ maxLength: 3 })), { maxLength: 4 }),
  fc.constantFrom(
    Array.from({ length: 51 }, (_, i) => `t${i}`),
    'customer',
    [1],
  ),
);
const anyRecord = fc.record(
  {
    external_id: ids,
    email: emails,
    phone: phones,
    first_name: names,
    last_name: names,
    locale: locales,
    timezone: zones,
    persona: personas,
    tags,
    attributes,
    other: fc.constantFrom(undefined, 'unexpected'),
  },
  { requiredKeys: [] },
);
/** Mostly good records with one field (or none) from anywhere: the rows an import sees. */
const records = fc.tuple(anyRecord, anyRecord).map(([base, other]) => {
  const record: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base))
    if (key !== 'other' && joiVerdict({ external_id: 'x', email: 'x@x.io', [key]: value })) record[key] = value;
  const [key] = Object.keys(other);
  if (key !== undefined) record[key] = other[key as keyof typeof other];
  return record;
});

describe('lead validation', () => {
  it('the fast path accepts only what joi accepts, converted as joi converts it', () => {
    let fast = 0;
    fc.assert(
      fc.property(records, (record) => {
        const quick = fastLeadRecord(record);
        if (quick === undefined) return;
        fast++;
        expect(joiVerdict(record), JSON.stringify(record)).to.deep.equal(quick);
      }),
      { numRuns: 5_000 },
    );
    // The generator reaches the fast path often enough for the comparison to mean something.
    expect(fast).to.be.greaterThan(1_000);
  });

  it('the fast path takes the common shape of an import row', () => {
    const row = {
      external_id: 'c-1',
      email: 'Customer.1@Example.com',
      phone: '+49 151 12345678',
      first_name: 'Ben',
      locale: 'de-DE',
      timezone: 'Europe/Berlin',
      tags: ['scale', 'newsletter'],
      attributes: { orders: 7, discount_affinity: 0.13, city: 'Hamburg', vip: true },
    };
    expect(fastLeadRecord(row)).to.deep.equal(joiVerdict(row)).and.to.include({ email: 'customer.1@example.com' });
  });
});
