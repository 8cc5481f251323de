// The usual scene of an API test file: the real app on its own database, a fake Chatwoot
// connected as an installation, and sign-in helpers — set up before the file's tests and
// taken down after, with the fake's contract violations checked after each test.
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startFakeChatwoot, type FakeChatwoot } from '../fakes/chatwoot.ts';
import { createTestApp, type TestApp } from './app.ts';
import { connectInstallation } from './identity.ts';

export interface World { t: TestApp; chatwoot: FakeChatwoot }

export function useWorld(chatwootAccountIds: number[] = [1], options: Parameters<typeof createTestApp>[0] = {}): World {
  const world = {} as World;
  beforeAll(async () => {
    world.t = await createTestApp(options);
    world.chatwoot = await startFakeChatwoot();
    await connectInstallation(world.t, world.chatwoot, chatwootAccountIds);
  });
  afterEach(() => {
    world.chatwoot.outage = null;
    expect(world.chatwoot.takeViolations()).toEqual([]);
  });
  afterAll(async () => {
    await world.chatwoot.close();
    await world.t.close();
  });
  return world;
}
