import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import type { Engine } from '../../src/engine.ts';
import { createApp } from '../../src/http/app.ts';

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
