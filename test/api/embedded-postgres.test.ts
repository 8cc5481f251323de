import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../extension/db/embedded-postgres.ts';

describe('the embedded Postgres', () => {
  it.runIf(process.getuid?.() === 0)('says plainly when its data folder sits inside a folder the postgres user cannot enter', async () => {
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'onelink-closed-'));
    fs.chmodSync(closed, 0o700);
    try {
      await expect(startEmbeddedPostgres({ dir: path.join(closed, 'data', 'postgres'), port: 1, database: 'onelink' })).rejects.toThrow(
        `cannot enter ${closed}; set ONELINK_DATA_DIR to a folder outside it`,
      );
    } finally {
      fs.rmSync(closed, { recursive: true, force: true });
    }
  });
});
