// Graceful HTTP close: stop accepting, let in-flight requests finish, drop idle keep-alive
// sockets at once, and cut whatever is still open when the grace period ends.
import type { Server } from 'node:http';

export async function closeServer(server: Server, graceMs: number): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A keep-alive socket whose response ends during the drain becomes idle, not closed:
  // sweep idle sockets until everything is gone, so a drain takes as long as the slowest request.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  try {
    await closed;
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
}
