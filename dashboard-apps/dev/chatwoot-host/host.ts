// A stand-in for Chatwoot's conversation view, for trying the dashboard apps without a Chatwoot
// and for browser tests: it frames an app at a sidebar width and speaks Chatwoot's protocol —
// it posts the appContext (a JSON string, targetOrigin '*') when the frame loads and whenever the
// app asks with 'chatwoot-dashboard-app:fetch-info'. On a conversation switch Chatwoot may build a
// new frame, or post the new conversation's context into the frame it has: the "On a switch"
// choice (or ?switch=rebuild|same) does either. ?app=<url> chooses the app (default: the sidebar).
// Each frame notes when it was created (data-created-at, epoch ms), for timing from outside.
import './host.css';

interface Fixture { id: number; inbox_id: number; status: string; labels: string[]; contact: { id: number; name: string; email: string; phone_number: string }; messages: string[] }

const fixtures: Fixture[] = [
  {
    id: 101,
    inbox_id: 3,
    status: 'open',
    labels: ['plumbing'],
    contact: { id: 501, name: 'Ada Lovelace', email: 'ada@example.com', phone_number: '+442079460958' },
    messages: ['Hi, the radiator in the hall is leaking since this morning.', 'Could someone come tomorrow before noon?'],
  },
  {
    id: 102,
    inbox_id: 3,
    status: 'pending',
    labels: [],
    contact: { id: 502, name: 'Grace Hopper', email: 'grace@example.com', phone_number: '+14155550123' },
    messages: ['We would like a quote for replacing the kitchen windows.'],
  },
  {
    id: 103,
    inbox_id: 3,
    status: 'open',
    labels: [],
    contact: { id: 503, name: 'Alan Turing', email: 'alan@example.com', phone_number: '+15105550177' },
    messages: ['Hello, first time writing: do you cover Oakland?'],
  },
];
const agent = { id: 1, name: 'Dev Agent', email: 'agent@example.com' };

const params = new URLSearchParams(window.location.search);
let frame = document.getElementById('dashboard-app') as HTMLIFrameElement;
const picker = document.getElementById('conversation') as HTMLSelectElement;
const width = document.getElementById('width') as HTMLSelectElement;
const switchMode = document.getElementById('switch-mode') as HTMLSelectElement;
if (params.get('switch') === 'same' || params.get('switch') === 'rebuild') switchMode.value = params.get('switch')!;
const appUrl = params.get('app') ?? `/apps/sidebar/?chatwoot=${encodeURIComponent(window.location.origin)}`;
let current = fixtures[0]!;

function appContext(f: Fixture) {
  const contact = { ...f.contact, custom_attributes: {}, additional_attributes: {} };
  const conversation = {
    id: f.id,
    inbox_id: f.inbox_id,
    status: f.status,
    labels: f.labels,
    custom_attributes: {},
    meta: { sender: contact, assignee: agent },
    messages: f.messages.map((content, i) => ({ id: f.id * 100 + i, content, message_type: 0, private: false, created_at: 1_795_000_000 + i })),
  };
  return JSON.stringify({ event: 'appContext', data: { conversation, contact, currentAgent: agent } });
}

function sendContext() {
  frame.contentWindow?.postMessage(appContext(current), '*');
}

/** A new frame in place of the old one (which is destroyed with everything in it). */
function buildFrame() {
  const next = document.createElement('iframe');
  next.id = 'dashboard-app';
  next.title = 'Onelink';
  next.dataset.createdAt = String(Date.now());
  next.addEventListener('load', sendContext);
  next.src = appUrl;
  frame.replaceWith(next);
  frame = next;
}

function show(f: Fixture, { initial = false } = {}) {
  current = f;
  document.getElementById('thread-title')!.textContent = `${f.contact.name} · #${f.id}`;
  const list = document.getElementById('messages')!;
  list.replaceChildren(...f.messages.map((m) => Object.assign(document.createElement('li'), { textContent: m })));
  if (initial || switchMode.value === 'rebuild') buildFrame();
  else sendContext();
}

for (const f of fixtures) picker.append(new Option(`#${f.id} ${f.contact.name}`, String(f.id)));
picker.addEventListener('change', () => show(fixtures.find((f) => String(f.id) === picker.value)!));
width.addEventListener('change', () => document.documentElement.style.setProperty('--frame-width', `${width.value}px`));
window.addEventListener('message', (event) => {
  if (event.source === frame.contentWindow && event.data === 'chatwoot-dashboard-app:fetch-info') sendContext();
});
show(current, { initial: true });
