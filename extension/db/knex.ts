// The knex instance: our own schema first on the search path, Postgres extensions in public.
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

// bigint (int8) columns such as count(*) come back as strings by default; our counts fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// A calendar date (expected close, document expiry) stays "2030-06-30": made into a Date it would
// be midnight in the server's time zone and could read as the day before elsewhere.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

export interface DbOptions {
  url: string;
  schema: string;
  poolMax?: number;
}

export function createKnex({ url, schema, poolMax = 10 }: DbOptions): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'onelink' },
    searchPath: [schema, 'public'],
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
  });
}
