import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import type { Clock } from '../../src/clock.ts';
import type { Engine } from '../../src/engine.ts';
import { createApp } from '../../src/http/app.ts';
import { testEngine, type TestEngine } from './engine.ts';

export interface TestWeb {
  /** http://127.0.0.1:<port>, known before the engine exists, so it can be its PUBLIC_URL. */
  base: string;
  /** Serves the engine's app from now on. */
  serve(engine: Engine): void;
  close(): Promise<void>;
}

/** A loopback HTTP server whose address is known first; the app is attached once the engine exists. */
export async function startWeb(): Promise<TestWeb> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve: (engine) => void server.on('request', createApp(engine)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A signed-in web UI session, as a browser without scripts holds it: the session cookie and the CSRF token of its forms. */
export interface WebSession {
  cookie: string;
  csrf: string;
}

/** Signs in through the login form, as a person would, and returns the session. */
export async function logIn(base: string, email: string, password: string): Promise<WebSession> {
  const form = await fetch(`${base}/login`);
  const loginCookie = form.headers.getSetCookie()[0]!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: loginCookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, email, password }).toString(),
  });
  if (res.status !== 303) throw new Error(`signing in as ${email} answered ${res.status}`);
  const cookie = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('tp_session='))!
    .split(';')[0]!;
  const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '' };
}

/**
 * An engine on a fresh database, served over HTTP at its PUBLIC_URL, for the enclosing `describe`
 * (started before its tests, closed after); call the result for both.
 */
export function useServedEngine(env: Record<string, string> = {}, clock?: Clock): () => { t: TestEngine; web: TestWeb } {
  let served: { t: TestEngine; web: TestWeb } | undefined;
  before(async () => {
    const web = await startWeb();
    const t = await testEngine({ PUBLIC_URL: web.base, ...env }, clock);
    web.serve(t.engine);
    served = { t, web };
  });
  after(async () => {
    await served?.web.close();
    await served?.t.close();
  });
  return () => served!;
}
