import fs from 'node:fs';
import path from 'node:path';

/** The benchmark's one campaign: one email step to every lead tagged `scale`. */
export const CAMPAIGN = 'scale';

const CAMPAIGN_YAML = `id: ${CAMPAIGN}
name: Scale benchmark
kind: lead
purpose: marketing
audience:
  tags: [scale]
steps:
  - id: offer
    channel: email
    template: scale-offer
`;

const PERSONAS_YAML = `personas:
  - id: loyalist
    match: { orders: { gte: 10 } }
    greeting: Dear
  - id: bargain-hunter
    match: { discount_affinity: { gte: 0.5 } }
    greeting: Hey
  - id: everyone-else
    greeting: Hello
`;

/** persona × locale variants of the step's template (the rest fall back to `default`). */
const TEMPLATES: Record<string, string> = {
  'loyalist.email.hbs': 'Dear {{lead.first_name}}, a thank-you for {{lead.orders}} orders',
  'loyalist.de.email.hbs': 'Liebe/r {{lead.first_name}}, danke für {{lead.orders}} Bestellungen',
  'bargain-hunter.email.hbs': 'Hey {{lead.first_name}}, 20% off this week',
  'default.email.hbs': '{{persona.greeting}} {{lead.first_name}}, our spring offer',
  'default.de.email.hbs': '{{persona.greeting}} {{lead.first_name}}, unser Frühlingsangebot',
  'default.fr.email.hbs': '{{persona.greeting}} {{lead.first_name}}, notre offre de printemps',
};

function template(subject: string): string {
  return `---
subject: "${subject}"
---
<p>${subject}.</p>
<p>Our spring collection is here, with something for every taste. Have a look before it is gone.</p>
<p><a href="https://shop.example.com/spring">Shop now</a></p>
<p style="font-size:12px;color:#666">You get this email because you subscribed to our newsletter.
<a href="{{unsubscribe_url}}">Unsubscribe</a>.</p>
`;
}

const LOCALES = ['en', 'de', 'de-DE', 'fr', 'en-GB', ''];
const ZONES = ['Europe/Berlin', 'Europe/London', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo', ''];
const FIRST = ['Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Greta', 'Hugo', 'Ida', 'Jonas'];
const LAST = ['Alt', 'Brandt', 'Conrad', 'Dietz', 'Engel', 'Fischer', 'Graf', 'Hahn'];

export interface BenchData {
  dir: string;
  campaignsDir: string;
  templatesDir: string;
  leadsFile: string;
  consentsFile: string;
  /** Leads with a confirmed email marketing consent: each is due one message. */
  consented: number;
  consentEvents: number;
}

/**
 * Consent of lead `i`: one in 40 has none, one a grant never confirmed, one confirmed and then
 * withdrawn; the other 37 granted and confirmed (1.95 events per lead on average).
 */
function consentOf(i: number): ('grant' | 'confirm' | 'withdraw')[] {
  switch (i % 40) {
    case 0:
      return [];
    case 1:
      return ['grant'];
    case 2:
      return ['grant', 'confirm', 'withdraw'];
    default:
      return ['grant', 'confirm'];
  }
}

/** Writes files in chunks so that generating a million rows stays in bounded memory. */
function writeLines(file: string, header: string, count: number, line: (i: number) => string | null): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, header + '\n');
    let buffer: string[] = [];
    for (let i = 0; i < count; i++) {
      const text = line(i);
      if (text !== null) buffer.push(text);
      if (buffer.length >= 10_000) {
        fs.writeSync(fd, buffer.join('\n') + '\n');
        buffer = [];
      }
    }
    if (buffer.length > 0) fs.writeSync(fd, buffer.join('\n') + '\n');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The benchmark's data under `dir`: the campaign and its personas, the template variants, `n`
 * leads as a marketer's CRM export (names, locale, timezone, a phone for every fifth, attributes
 * that decide the persona) and their consent history as a consent import file.
 */
export function generateData(dir: string, n: number): BenchData {
  const campaignsDir = path.join(dir, 'campaigns');
  const templatesDir = path.join(dir, 'templates');
  fs.mkdirSync(campaignsDir, { recursive: true });
  fs.mkdirSync(path.join(templatesDir, 'scale-offer'), { recursive: true });
  fs.writeFileSync(path.join(campaignsDir, `${CAMPAIGN}.yaml`), CAMPAIGN_YAML);
  fs.writeFileSync(path.join(campaignsDir, 'personas.yaml'), PERSONAS_YAML);
  for (const [file, subject] of Object.entries(TEMPLATES)) {
    fs.writeFileSync(path.join(templatesDir, 'scale-offer', file), template(subject));
  }

  const leadsFile = path.join(dir, 'leads.csv');
  writeLines(leadsFile, 'external_id,email,phone,first_name,last_name,locale,timezone,tags,orders,discount_affinity,city', n, (i) =>
    [
      `c-${i}`,
      `customer.${i}@example.com`,
      i % 5 === 0 ? `+49 151 ${String(10_000_000 + (i % 89_999_999)).padStart(8, '0')}` : '',
      FIRST[i % FIRST.length],
      LAST[i % LAST.length],
      LOCALES[i % LOCALES.length],
      ZONES[(i >> 3) % ZONES.length],
      i % 3 === 0 ? 'scale;newsletter' : 'scale',
      (i * 7) % 25,
      ((i * 13) % 100) / 100,
      i % 2 === 0 ? 'Berlin' : 'Hamburg',
    ].join(','),
  );

  const consentsFile = path.join(dir, 'consents.csv');
  let consented = 0;
  let consentEvents = 0;
  writeLines(consentsFile, 'external_id,channel,purpose,action,occurred_at,source', n, (i) => {
    const actions = consentOf(i);
    if (actions.length === 0) return null;
    if (actions.at(-1) === 'confirm') consented++;
    consentEvents += actions.length;
    return actions
      .map(
        (action, k) =>
          `c-${i},email,marketing,${action},2025-01-0${k + 1}T10:00:00Z,${action === 'confirm' ? 'double-opt-in' : 'signup-form'}`,
      )
      .join('\n');
  });
  return { dir, campaignsDir, templatesDir, leadsFile, consentsFile, consented, consentEvents };
}
