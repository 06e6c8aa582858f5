import fs from 'node:fs';
import path from 'node:path';
import type { Deployment } from './deployment.ts';

/** The one campaign every drill runs: one email step to every lead tagged `drill`. */
export const CAMPAIGN = 'drill';

export interface Audience {
  /** Addresses (lower-cased) of leads with a confirmed email marketing consent: each is due one message. */
  consented: string[];
  /** Addresses of leads in the audience without a usable consent: never to be mailed. */
  unconsented: string[];
  /** External id of a lead by address. */
  externalId: Map<string, string>;
}

const CAMPAIGN_YAML = `id: ${CAMPAIGN}
name: Fault drill
kind: lead
purpose: marketing
audience:
  tags: [drill]
steps:
  - id: only
    channel: email
    template: drill-note
`;

const TEMPLATE = `---
subject: "A note for {{lead.first_name}}"
---
<p>Hello {{lead.first_name}}, this is a fault drill.</p>
<p><a href="{{unsubscribe_url}}">Unsubscribe</a></p>
`;

/** Writes the campaign and its template into the deployment's own directories. */
export function writeCampaign(d: Deployment): void {
  fs.mkdirSync(path.join(d.templatesDir, 'drill-note'), { recursive: true });
  fs.writeFileSync(path.join(d.campaignsDir, `${CAMPAIGN}.yaml`), CAMPAIGN_YAML);
  fs.writeFileSync(path.join(d.templatesDir, 'drill-note', 'default.email.hbs'), TEMPLATE);
}

/**
 * Imports `n` leads with a confirmed email marketing consent (a `legacy-confirmed` grant counts
 * as confirmed) and a twentieth as many without one (no consent, a grant never confirmed, a grant
 * withdrawn), through the CLI's `leads import` and `consent import`, as an operator would.
 */
export async function seedAudience(d: Deployment, n: number): Promise<Audience> {
  const others = Math.max(3, Math.round(n / 20));
  const leadRows = ['external_id,email,first_name,tags'];
  const consentRows = ['external_id,channel,purpose,action,occurred_at,source'];
  const audience: Audience = { consented: [], unconsented: [], externalId: new Map() };
  const add = (id: string, consented: boolean) => {
    const email = `${id}@drill.example.com`;
    leadRows.push(`${id},${email},${id.toUpperCase()},drill`);
    (consented ? audience.consented : audience.unconsented).push(email);
    audience.externalId.set(email, id);
  };
  for (let i = 0; i < n; i++) {
    const id = `d-${i}`;
    add(id, true);
    consentRows.push(`${id},email,marketing,grant,2025-01-01T00:00:00Z,legacy-confirmed`);
  }
  for (let i = 0; i < others; i++) {
    const id = `x-${i}`;
    add(id, false);
    if (i % 3 === 1) consentRows.push(`${id},email,marketing,grant,2025-01-01T00:00:00Z,signup-form`);
    if (i % 3 === 2) {
      consentRows.push(`${id},email,marketing,grant,2025-01-01T00:00:00Z,legacy-confirmed`);
      consentRows.push(`${id},email,marketing,withdraw,2025-02-01T00:00:00Z,unsubscribe-link`);
    }
  }
  const leadsFile = path.join(d.root, 'leads.csv');
  const consentsFile = path.join(d.root, 'consents.csv');
  fs.writeFileSync(leadsFile, leadRows.join('\n') + '\n');
  fs.writeFileSync(consentsFile, consentRows.join('\n') + '\n');
  await d.cli(['leads', 'import', leadsFile]);
  await d.cli(['consent', 'import', consentsFile]);
  return audience;
}
