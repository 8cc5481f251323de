// A stand-in for Chatwoot's conversation view, for trying the dashboard apps without a Chatwoot
// and for browser tests: it frames an app at a sidebar width and speaks Chatwoot's protocol —
// it posts the appContext (a JSON string, targetOrigin '*') when the frame loads and whenever the
// app asks with 'chatwoot-dashboard-app:fetch-info', and rebuilds the frame on a conversation
// switch, as Chatwoot does. ?app=<url> chooses the app (default: the sidebar).
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
];
const agent = { id: 1, name: 'Dev Agent', email: 'agent@example.com' };

const params = new URLSearchParams(window.location.search);
const frame = document.getElementById('dashboard-app') as HTMLIFrameElement;
const picker = document.getElementById('conversation') as HTMLSelectElement;
const width = document.getElementById('width') as HTMLSelectElement;
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

function show(f: Fixture) {
  current = f;
  document.getElementById('thread-title')!.textContent = `${f.contact.name} · #${f.id}`;
  const list = document.getElementById('messages')!;
  list.replaceChildren(...f.messages.map((m) => Object.assign(document.createElement('li'), { textContent: m })));
  // Chatwoot destroys the app's frame on a conversation switch and builds a new one.
  frame.src = appUrl;
}

for (const f of fixtures) picker.append(new Option(`#${f.id} ${f.contact.name}`, String(f.id)));
picker.addEventListener('change', () => show(fixtures.find((f) => String(f.id) === picker.value)!));
width.addEventListener('change', () => document.documentElement.style.setProperty('--frame-width', `${width.value}px`));
frame.addEventListener('load', sendContext);
window.addEventListener('message', (event) => {
  if (event.source === frame.contentWindow && event.data === 'chatwoot-dashboard-app:fetch-info') sendContext();
});
show(current);
