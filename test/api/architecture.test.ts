// Two rules of the code's shape, checked over the source with TypeScript's own parser:
//  1. Tenant data changes only through the unit of work (extension/db/tenant.ts: read() and write()).
//     Outside it, no module opens a transaction on the pool, calls withAccount, or sets the account
//     (set_config('onelink.account_id', …)) itself. Savepoints inside a unit of work are fine.
//     Writes straight on the pool (db('table').update(…), db.raw('insert into …')) name only the
//     few tables that belong to no account (listed below with their reason); row-level security
//     would refuse the others anyway (test/api/access.test.ts checks every table with account_id).
//  2. No import circles among extension/ and webhooks/ (type-only imports count too).
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const scanned = ['extension', 'webhooks'];

/** Files allowed to do what the rule refuses, each with its reason. */
const allowedSideDoors: Record<string, string> = {
  'extension/db/tenant.ts': 'the unit of work itself',
};

/** Tables written straight on the pool, outside any account, and why. */
const poolTables: Record<string, string> = {
  installations: 'a connected Chatwoot, above its accounts',
  webhook_deliveries: 'the inbox stores a delivery before its account is known (per installation)',
  webhook_refusals: 'refused deliveries are counted per installation, often with no account',
  sweep_runs: 'a sweep as a whole, across accounts (its per-account failures are tenant data)',
  rate_limit_hits: 'rate-limit counters per limiter and client address, counted before anyone is known',
};
const poolWrites = new Set(['insert', 'update', 'del', 'delete', 'increment', 'decrement', 'truncate', 'upsert']);
const isPool = (e: ts.Expression) => (ts.isIdentifier(e) && ['db', 'knex'].includes(e.text)) || (ts.isPropertyAccessExpression(e) && ['db', 'knex'].includes(e.name.text));

/** Receivers of `.transaction(` that are already a transaction of the unit of work (a savepoint). */
const transactionNames = new Set(['trx', 'savepoint', 'sp']);

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(full);
      } else if (/\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
    }
  };
  for (const dir of scanned) walk(path.join(root, dir));
  return out.sort();
}

const relative = (file: string) => path.relative(root, file).split(path.sep).join('/');

/** Where a source opens a tenant transaction outside the unit of work. */
function sideDoors(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (node: ts.Node, what: string) => {
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
    found.push(`${fileName}:${line + 1}: ${what}`);
  };
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : null;
      if (name === 'withAccount' || name === 'withAccountForTests') at(node, `${name}(…) — use read() or write()`);
      if (name === 'transaction' && ts.isPropertyAccessExpression(callee)) {
        const receiver = callee.expression;
        if (!(ts.isIdentifier(receiver) && transactionNames.has(receiver.text))) at(node, `${receiver.getText(source)}.transaction(…) — use write()`);
      }
      // db('table')….update(…): follow the chain down to the query's start.
      if (name && poolWrites.has(name) && ts.isPropertyAccessExpression(callee)) {
        let base: ts.Expression = callee.expression;
        for (;;) {
          if (ts.isCallExpression(base) && ts.isPropertyAccessExpression(base.expression)) base = base.expression.expression;
          else if (ts.isPropertyAccessExpression(base)) base = base.expression;
          else break;
        }
        const table = ts.isCallExpression(base) && isPool(base.expression) && base.arguments[0] && ts.isStringLiteralLike(base.arguments[0]) ? base.arguments[0].text : null;
        if (table !== null && !(table in poolTables)) at(node, `${table}.${name}(…) on the pool — use write()`);
      }
      if (name === 'raw' && ts.isPropertyAccessExpression(callee) && isPool(callee.expression) && node.arguments[0]) {
        const sql = node.arguments[0].getText(source);
        for (const [, verb, table] of sql.matchAll(/(?<!\bdo\s+)\b(insert\s+into|update|delete\s+from)\s+([a-z_]+)/gi)) {
          if (!(table! in poolTables)) at(node, `${verb} ${table} on the pool — use write()`);
        }
      }
    }
    if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) && /onelink\.account_id|set_config\((?!'enable_|'onelink\.redacting')/.test(node.text)) {
      at(node, 'sets the account itself — use read() or write()');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The project files a source imports (static, type-only, re-exports and dynamic imports). */
function importsOf(file: string, text: string, known: Set<string>): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.resolve(path.dirname(file), spec))
    .filter((target) => known.has(target));
}

/** Every import circle: one path per strongly connected group of files (Tarjan). */
function importCircles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const connect = (v: string) => {
    order.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!order.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) groups.push(group);
    }
  };
  for (const v of graph.keys()) if (!order.has(v)) connect(v);
  // One concrete circle per group, to print: walk from its first file back to it, inside the group.
  return groups.map((group) => {
    const members = new Set(group);
    const start = [...group].sort()[0]!;
    const seen = new Map<string, string | null>([[start, null]]);
    const queue = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const w of graph.get(v) ?? []) {
        if (w === start) {
          const circle = [start];
          for (let at: string | null = v; at && at !== start; at = seen.get(at)!) circle.splice(1, 0, at);
          return [...circle, start];
        }
        if (members.has(w) && !seen.has(w)) {
          seen.set(w, v);
          queue.push(w);
        }
      }
    }
    return group;
  });
}

describe('architecture', () => {
  const files = sourceFiles();
  const texts = new Map(files.map((file) => [file, fs.readFileSync(file, 'utf8')]));

  it('finds the side doors and circles it is looking for (the checks themselves work)', () => {
    const sample = [
      `await withAccount(db, 1, { readOnly: false }, (trx) => trx('jobs').update({}));`,
      `await db.transaction(async (t) => t('jobs').insert({}));`,
      `await services.db.transaction((t) => t.raw("select set_config('onelink.account_id', ?, true)", ['1']));`,
      `await trx.transaction((savepoint) => savepoint('jobs').insert({}));`,
      `await db('jobs').where({ id }).update({ status: 'new' });`,
      `await services.db.raw('update tasks set status = ? where id = ?', ['open', id]);`,
      `await db('webhook_deliveries').where({ id }).update({ status: 'processed' });`,
      `await trx('jobs').where({ id }).update({ status: 'new' });`,
      `await db.raw('insert into sweep_runs (sweep) values (?) on conflict (sweep) do update set runs = 1', ['x']);`,
    ].join('\n');
    expect(sideDoors('sample.ts', sample)).toEqual([
      'sample.ts:1: withAccount(…) — use read() or write()',
      'sample.ts:2: db.transaction(…) — use write()',
      'sample.ts:3: services.db.transaction(…) — use write()',
      'sample.ts:3: sets the account itself — use read() or write()',
      'sample.ts:5: jobs.update(…) on the pool — use write()',
      'sample.ts:6: update tasks on the pool — use write()',
    ]);
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
    ]);
    expect(importCircles(graph)).toEqual([['a', 'b', 'c', 'a']]);
    expect(importCircles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('changes tenant data only through the unit of work (read() and write() in db/tenant.ts)', () => {
    expect(files.length).toBeGreaterThan(50);
    const found = files.filter((file) => !(relative(file) in allowedSideDoors)).flatMap((file) => sideDoors(relative(file), texts.get(file)!));
    expect(found, `tenant writes outside the unit of work:\n${found.join('\n')}`).toEqual([]);
    for (const file of Object.keys(allowedSideDoors)) expect(fs.existsSync(path.join(root, file)), `${file} is allowed but gone`).toBe(true);
  });

  it('has no import circles among extension/ and webhooks/', () => {
    const known = new Set(files);
    const graph = new Map(files.map((file) => [file, importsOf(file, texts.get(file)!, known)]));
    expect([...graph.values()].flat().length).toBeGreaterThan(100);
    const circles = importCircles(graph).map((circle) => circle.map(relative).join(' → '));
    expect(circles, `import circles:\n${circles.join('\n')}`).toEqual([]);
  });
});
