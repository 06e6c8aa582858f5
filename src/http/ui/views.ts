import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { DateTime } from 'luxon';

/**
 * Server-rendered pages: Handlebars views inside one layout. Every `{{value}}` is HTML-escaped, so
 * what people write to us (reply bodies, subjects, names) is shown as text, never as markup; the
 * only triple-stashes are the layout's `{{{body}}}`, which holds a rendered view, and the report's
 * `{{{svg}}}`, a chart Vega wrote (charts.ts), which escapes every text and attribute in it.
 */
const VIEWS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'views');
const hbs = Handlebars.create();

hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
hbs.registerHelper('uri', (value: string) => encodeURIComponent(value));
/** An instant as every page shows it: to the minute, in the viewer's time zone, named (`2026-11-01 14:30 Europe/Berlin`). */
export function formatTime(value: Date | string, timeZone: string): string {
  return `${DateTime.fromJSDate(new Date(value), { zone: timeZone }).toFormat('yyyy-MM-dd HH:mm')} ${timeZone}`;
}

// The page's time zone comes with the render (kit.ts puts it at the root of every page's context).
hbs.registerHelper('time', (value: Date | string | null | undefined, options: Handlebars.HelperOptions) =>
  value ? formatTime(value, (options.data as { root: { timeZone?: string } }).root.timeZone ?? 'UTC') : '—',
);
/** A reply's sentiment score in words; scores this close to 0 carry no opinion either way. */
hbs.registerHelper('sentimentLabel', (score: number) => (score <= -0.05 ? 'negative' : score >= 0.05 ? 'positive' : 'neutral'));
hbs.registerHelper('excerpt', (text: string | null | undefined) => {
  const flat = (text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat || '(empty)';
});
hbs.registerHelper('detailText', (detail: Record<string, unknown> | null | undefined) =>
  Object.entries(detail ?? {})
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', '),
);

// Pieces shown on more than one page (`{{> email-state …}}`), from views/partials.
for (const file of fs.readdirSync(path.join(VIEWS_DIR, 'partials'))) {
  hbs.registerPartial(path.basename(file, '.hbs'), fs.readFileSync(path.join(VIEWS_DIR, 'partials', file), 'utf8'));
}

const compiled = new Map<string, Handlebars.TemplateDelegate>();

function view(name: string): Handlebars.TemplateDelegate {
  let template = compiled.get(name);
  if (!template) {
    template = hbs.compile(fs.readFileSync(path.join(VIEWS_DIR, `${name}.hbs`), 'utf8'), { strict: false });
    compiled.set(name, template);
  }
  return template;
}

/** A whole page: the view rendered into the layout with the same context. */
export function renderPage(name: string, context: Record<string, unknown>): string {
  const body = view(name)(context);
  return view('layout')({ ...context, body });
}
