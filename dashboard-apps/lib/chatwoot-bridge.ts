// Chatwoot's dashboard-app protocol, from inside the iframe. Chatwoot posts the conversation it
// shows as a JSON string {"event":"appContext","data":{conversation, contact, currentAgent}};
// we ask for it (again) by posting 'chatwoot-dashboard-app:fetch-info' to the parent.
// The context only says WHICH conversation to show. It proves nothing about who is looking
// (any page could post it): identity comes from our own sign-in, and the server checks every id.
// Messages are taken only from the parent window and only from the expected Chatwoot origin.
import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue';

export interface AppContact { id: number; name: string | null; email: string | null; phone_number: string | null }
export interface AppConversation { id: number; inbox_id: number | null; status: string | null; labels: string[]; contact_id: number | null; last_message: string | null }
export interface AppContext { conversation: AppConversation; contact: AppContact | null; currentAgent: { id: number; name: string | null } | null }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : null);
const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);

/** The appContext in a message, or null when the message is anything else (or malformed). */
export function parseAppContext(raw: unknown): AppContext | null {
  let message: unknown = raw;
  if (typeof raw === 'string') {
    try {
      message = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (!isObject(message) || message.event !== 'appContext' || !isObject(message.data)) return null;
  const { conversation, contact, currentAgent } = message.data;
  if (!isObject(conversation) || int(conversation.id) === null) return null;
  const sender = isObject(conversation.meta) && isObject(conversation.meta.sender) ? conversation.meta.sender : null;
  const messages = Array.isArray(conversation.messages) ? conversation.messages.filter(isObject) : [];
  const last = [...messages].reverse().find((m) => typeof m.content === 'string' && m.private !== true);
  const person = isObject(contact) && int(contact.id) !== null ? contact : sender;
  return {
    conversation: {
      id: int(conversation.id)!,
      inbox_id: int(conversation.inbox_id),
      status: text(conversation.status),
      labels: Array.isArray(conversation.labels) ? conversation.labels.filter((l): l is string => typeof l === 'string') : [],
      contact_id: int(person?.id),
      last_message: last ? String(last.content).slice(0, 500) : null,
    },
    contact: person ? { id: int(person.id)!, name: text(person.name), email: text(person.email), phone_number: text(person.phone_number) } : null,
    currentAgent: isObject(currentAgent) && int(currentAgent.id) !== null ? { id: int(currentAgent.id)!, name: text(currentAgent.name) } : null,
  };
}

export const fetchInfoMessage = 'chatwoot-dashboard-app:fetch-info';

/**
 * The conversation Chatwoot shows, following switches. `hostOrigin` is the Chatwoot origin
 * the app was registered for; our own origin is accepted too (the dev host page).
 */
export function useChatwootContext(hostOrigin: () => string | null): { context: Ref<AppContext | null>; refresh: () => void; framed: boolean } {
  const context = ref<AppContext | null>(null);
  const framed = window.parent !== window;
  const listener = (event: MessageEvent) => {
    if (event.source !== window.parent) return;
    const allowed = [hostOrigin(), window.location.origin].filter(Boolean);
    if (!allowed.includes(event.origin)) return;
    const parsed = parseAppContext(event.data);
    if (parsed) context.value = parsed;
  };
  const refresh = () => {
    // The question carries nothing; '*' lets it reach Chatwoot whatever its address. Answers are checked above.
    if (framed) window.parent.postMessage(fetchInfoMessage, '*');
  };
  onMounted(() => {
    window.addEventListener('message', listener);
    refresh();
  });
  onBeforeUnmount(() => window.removeEventListener('message', listener));
  return { context, refresh, framed };
}
