// The standard response shape: { data, meta } on success, { error: { code, message, details } } on failure.
import type { Response } from 'express';

export function sendData(res: Response, data: unknown, meta: Record<string, unknown> = {}, status = 200) {
  res.status(status).json({ data, meta });
}

export function sendError(res: Response, status: number, code: string, message: string, details?: unknown) {
  res.status(status).json({ error: { code, message, details: details ?? null } });
}
