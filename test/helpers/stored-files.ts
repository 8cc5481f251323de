// Every stored file's key or path, wherever the test app keeps them (the files folder, or the S3 bucket
// when the tests run on S3): for asserting that a refused request kept nothing and a delete removed the bytes.
import fs from 'node:fs';
import path from 'node:path';
import type { TestApp } from './app.ts';

export async function storedFiles(t: TestApp): Promise<string[]> {
  if (t.s3) return t.s3.keys();
  if (!fs.existsSync(t.config.filesDir)) return [];
  return fs
    .readdirSync(t.config.filesDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}
