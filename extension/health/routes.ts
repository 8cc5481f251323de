// Probes for process managers and load balancers, and the public service status.
import type { Knex } from 'knex';
import { z } from 'zod';
import { migrationStatus } from '../db/migrations.ts';
import { sendData, sendError } from '../http/envelope.ts';
import { defineRoute } from '../http/registry.ts';

export interface HealthDeps { knex: Knex; schema: string; version: string; publicUrl: string; databaseMode: 'embedded' | 'external' }

async function readiness({ knex, schema }: HealthDeps) {
  try {
    await knex.raw('select 1');
  } catch {
    return { ready: false, database: 'unreachable', appliedMigrations: 0, pendingMigrations: [] as string[] };
  }
  const { applied, pending } = await migrationStatus(knex, schema);
  return { ready: pending.length === 0, database: 'reachable', appliedMigrations: applied.length, pendingMigrations: pending };
}

const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  database: z.enum(['reachable', 'unreachable']),
  pending_migrations: z.array(z.string()),
});

export function healthRoutes(deps: HealthDeps) {
  return [
    defineRoute({
      method: 'get',
      prefix: '',
      path: '/health/live',
      summary: 'Liveness: the process is up and serving HTTP',
      tags: ['health'],
      access: { public: true },
      response: z.object({ status: z.literal('ok') }),
      handler: ({ res }) => sendData(res, { status: 'ok' }),
    }),
    defineRoute({
      method: 'get',
      prefix: '',
      path: '/health/ready',
      summary: 'Readiness: the database answers and every migration is applied (503 otherwise)',
      tags: ['health'],
      access: { public: true },
      response: readinessSchema,
      handler: async ({ res }) => {
        const state = await readiness(deps);
        const body = {
          status: state.ready ? 'ready' : 'not_ready',
          database: state.database,
          pending_migrations: state.pendingMigrations,
        };
        if (state.ready) sendData(res, body);
        else sendError(res, 503, 'not_ready', 'The service is not ready', body);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/status',
      summary: 'Service version, database mode and migration state',
      tags: ['health'],
      access: { public: true },
      response: z.object({
        service: z.literal('onelink'),
        version: z.string(),
        public_url: z.string(),
        database: z.object({ mode: z.enum(['embedded', 'external']), reachable: z.boolean() }),
        migrations: z.object({ applied: z.number().int(), pending: z.array(z.string()) }),
      }),
      handler: async ({ res }) => {
        const state = await readiness(deps);
        sendData(res, {
          service: 'onelink',
          version: deps.version,
          public_url: deps.publicUrl,
          database: { mode: deps.databaseMode, reachable: state.database === 'reachable' },
          migrations: { applied: state.appliedMigrations, pending: state.pendingMigrations },
        });
      },
    }),
  ];
}
