// Memory of another Node process as it really holds it: through its inspector (started with
// --inspect on loopback), a full garbage collection first, then process.memoryUsage() read inside
// it — so a figure per connection is what the connections keep, not garbage awaiting collection.
// A minimal WebSocket client (one request, its answer) is enough for the two DevTools calls.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';

/** One masked text frame, as a client must send it. */
function frame(text: string) {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x81, 0x80 | length]) : Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([header, mask, masked]);
}

/** Reads the server's (unmasked) text frames off the socket, one message at a time. */
function messages(socket: Duplex, onMessage: (text: string) => void) {
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      let length = buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (buffer.length < offset + length) return;
      const opcode = buffer[0]! & 0x0f;
      const payload = buffer.subarray(offset, offset + length);
      buffer = buffer.subarray(offset + length);
      if (opcode === 0x1) onMessage(payload.toString('utf8'));
    }
  });
}

async function debuggerUrl(port: number) {
  const response = await fetch(`http://127.0.0.1:${port}/json/list`);
  const [target] = (await response.json()) as Array<{ webSocketDebuggerUrl: string }>;
  if (!target) throw new Error(`no inspector target on port ${port}`);
  return target.webSocketDebuggerUrl;
}

/** Collects garbage in the process inspected on `port`, then answers its process.memoryUsage() (bytes). */
export async function memoryAfterGc(port: number): Promise<NodeJS.MemoryUsage> {
  const url = new URL(await debuggerUrl(port));
  const socket = await new Promise<Duplex>((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') } });
    req.on('upgrade', (_res, upgraded) => resolve(upgraded));
    req.on('response', (res) => reject(new Error(`inspector answered ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
  try {
    const pending = new Map<number, (result: Record<string, unknown>) => void>();
    messages(socket, (text) => {
      const message = JSON.parse(text) as { id?: number; result?: Record<string, unknown> };
      if (message.id !== undefined) pending.get(message.id)?.(message.result ?? {});
    });
    let nextId = 1;
    const send = (method: string, params: object = {}) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        socket.write(frame(JSON.stringify({ id, method, params })));
      });
    await send('HeapProfiler.collectGarbage');
    await send('HeapProfiler.collectGarbage');
    const answer = await send('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    return JSON.parse((answer.result as { value: string }).value) as NodeJS.MemoryUsage;
  } finally {
    socket.destroy();
  }
}
