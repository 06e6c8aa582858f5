/** A signed-in web UI session: its cookie, and GETs and form POSTs made with it (with its CSRF token). */
export interface TestSession {
  cookie: string;
  page(path: string): Promise<Response>;
  /** Posts a form as the page would, with the session's CSRF token; redirects are not followed. */
  post(path: string, fields: Record<string, string>): Promise<Response>;
}

const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** Signs in through the login form, as a browser would. */
export async function logIn(base: string, email: string, password: string): Promise<TestSession> {
  const form = await fetch(`${base}/login`);
  const loginCookie = form.headers.getSetCookie()[0]!.split(';')[0]!;
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrfOf(await form.text()), email, password }).toString(),
  });
  if (res.status !== 303) throw new Error(`signing in as ${email} answered ${res.status}`);
  const cookie = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('tp_session='))!
    .split(';')[0]!;
  const page = (path: string) => fetch(base + path, { headers: { cookie } });
  const csrf = csrfOf(await (await page('/')).text());
  return {
    cookie,
    page,
    post: (path, fields) =>
      fetch(base + path, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
      }),
  };
}
