// A readable HTML page of the OpenAPI document, rendered on the server (no CDN, works offline).
import type { OpenApiDocument } from './openapi.ts';

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderApiReference(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? [])
        .map((p) => `<li><code>${escape(p.name)}</code> <em>${escape(p.in)}${p.required ? ', required' : ''}</em>${p.description ? ` — ${escape(p.description)}` : ''}</li>`)
        .join('');
      const json = op.requestBody?.content['application/json'];
      const body = json?.schema;
      const html = `<section class="op">
  <h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3>
  <p>${escape(op.description ?? op.summary ?? '')}</p>
  ${params ? `<h4>Parameters</h4><ul>${params}</ul>` : ''}
  ${body ? `<h4>JSON body</h4><pre tabindex="0">${escape(JSON.stringify(body, null, 2))}</pre>` : ''}
  ${json?.example !== undefined ? `<h4>Example body</h4><pre tabindex="0">${escape(JSON.stringify(json.example, null, 2))}</pre>` : ''}
</section>`;
      const tag = op.tags?.[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const sections = [...byTag.entries()]
    .map(([tag, ops]) => {
      const about = doc.tags.find((t) => t.name === tag)?.description;
      return `<h2 id="${escape(tag)}">${escape(tag)}</h2>${about ? `<p>${escape(about)}</p>` : ''}${ops.join('\n')}`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(doc.info.title)} — reference</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
  :root { color-scheme: light dark; --fg: light-dark(#1c2024, #edeef0); --muted: light-dark(#60646c, #a0a7b0); --bg: light-dark(#fff, #111315);
    --line: light-dark(#e2e6ea, #2e3135); --code: light-dark(#f1f3f5, #25282c); --link: light-dark(#1f66d1, #77aef5); }
  body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; max-width: 920px; padding: 24px; }
  h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; margin-top: 32px; }
  h3 { font-size: 15px; margin: 0 0 4px; } h4 { font-size: 13px; margin: 8px 0 4px; color: var(--muted); }
  .op { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
  .method { display: inline-block; min-width: 56px; text-align: center; border-radius: 4px; padding: 1px 6px; font-size: 12px; color: #fff; background: #1f66d1; }
  .method.post { background: #18794e; } .method.delete { background: #ce2c31; } .method.patch, .method.put { background: #8a5a00; }
  pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; } pre { background: var(--code); padding: 8px; border-radius: 6px; overflow: auto; }
  a { color: var(--link); }
</style></head>
<body>
<h1>${escape(doc.info.title)} <small>v${escape(doc.info.version)}</small></h1>
<p>${escape(doc.info.description ?? '')}</p>
<p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1).</p>
${sections}
</body></html>`;
}
