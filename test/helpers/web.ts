import type { AddressInfo } from 'node:net';
import { createServer, request } from 'node:http';
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

/**
 * One HTTP request on a connection of its own, through node:http: an attack's client sends
 * prepared bytes and does no work of its own on the event loop it shares with the app under test.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface TestApp extends TestEngine {
  /** The app's address, also its PUBLIC_URL. */
  base: string;
}

/** An engine on a fresh database (testEngine), served over loopback HTTP at its own PUBLIC_URL. */
export async function testApp(env: Record<string, string> = {}): Promise<TestApp> {
  const web = await startWeb();
  const t = await testEngine({ PUBLIC_URL: web.base, ...env });
  web.serve(t.engine);
  return {
    ...t,
    base: web.base,
    async close() {
      await web.close();
      await t.close();
    },
  };
}
