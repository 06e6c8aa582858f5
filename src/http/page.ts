import { escapeHtml } from '../render/html.ts';

/** A minimal standalone page for recipients (unsubscribe, confirmations) in their language; `body` must be safe HTML. */
export function page(lang: string, title: string, body: string): string {
  return `<!doctype html><html lang="${escapeHtml(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
button{font:inherit;padding:.5rem 1rem}</style></head><body>${body}</body></html>`;
}
