// The benchmark's yardstick: a bare Express route doing one INSERT into the same database.
import express from 'express';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 10) });
const app = express();
app.post('/hook', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
  await pool.query('insert into onelink.bench_baseline (body) values ($1)', [(req.body as Buffer).toString('utf8')]);
  res.status(202).json({ ok: true });
});
app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => pool.end().then(() => process.exit(0)));
