/** The login form's double-submit cookie and CSRF token, as a browser gets them. */
export interface LoginForm {
  cookie: string;
  csrf: string;
}

export async function loginForm(base: string): Promise<LoginForm> {
  const res = await fetch(`${base}/login`);
  const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await res.text())![1]!;
  return { cookie, csrf };
}

/**
 * Posts the login form and reads the answer. `forwardedFor` plays the reverse proxy in front of
 * the app: the test connects over loopback, the one proxy the app trusts, so the header names the
 * client's address. `form` lets many attempts be ready before any is sent.
 */
export async function postLogin(
  base: string,
  email: string,
  password: string,
  options: { forwardedFor?: string; form?: LoginForm } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const { cookie, csrf } = options.form ?? (await loginForm(base));
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie,
      'content-type': 'application/x-www-form-urlencoded',
      ...(options.forwardedFor ? { 'x-forwarded-for': options.forwardedFor } : {}),
    },
    body: new URLSearchParams({ _csrf: csrf, email, password }).toString(),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The `tp_session=…` cookie a successful sign-in set. */
export function sessionCookie(headers: Headers): string {
  return headers
    .getSetCookie()
    .find((c) => c.startsWith('tp_session='))!
    .split(';')[0]!;
}
