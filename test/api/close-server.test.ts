import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer } from '../../extension/http/close-server.ts';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

function slowServer(delayMs: number) {
  server = createServer((_req, res) => setTimeout(() => res.end('finished'), delayMs));
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => `http://127.0.0.1:${(server!.address() as AddressInfo).port}`);
}

describe('graceful HTTP close', () => {
  it('lets an in-flight request finish and refuses new connections', async () => {
    const url = await slowServer(400);
    const inFlight = fetch(url).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 100));
    const closing = closeServer(server!, 5_000);
    await expect(fetch(url)).rejects.toThrow();
    expect(await inFlight).toBe('finished');
    await closing;
    expect(server!.listening).toBe(false);
  });

  it('cuts requests still running when the grace period ends', async () => {
    const url = await slowServer(10_000);
    const inFlight = fetch(url).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await closeServer(server!, 300);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await inFlight).toBe('cut');
  });
});
