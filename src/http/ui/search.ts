import type { Request } from 'express';
import type { Engine } from '../../engine.ts';

/** People per page of search results. */
const PER_PAGE = 25;

/**
 * One page of a person search (`?q=…&page=n`), as the leads and audit pages show it: the people of
 * the page, its number and links to the previous and next pages (asked for one more than a page,
 * so the last page has no "next").
 */
export async function searchPage(engine: Engine, req: Request, path: string) {
  const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '';
  const number = Math.max(1, Math.min(10_000, Number.parseInt(String(req.query.page ?? '1'), 10) || 1));
  const found = q ? await engine.leads.search(q, { limit: PER_PAGE + 1, offset: (number - 1) * PER_PAGE }) : [];
  const link = (n: number) => `${path}?${new URLSearchParams({ q, page: String(n) }).toString()}`;
  return {
    q,
    leads: found.slice(0, PER_PAGE),
    pageNumber: number,
    previous: number > 1 ? link(number - 1) : undefined,
    next: found.length > PER_PAGE ? link(number + 1) : undefined,
  };
}
