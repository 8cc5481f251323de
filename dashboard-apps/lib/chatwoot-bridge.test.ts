import { defineComponent, h, nextTick } from 'vue';
import { mount } from '@vue/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { fetchInfoMessage, parseAppContext, useChatwootContext } from './chatwoot-bridge.ts';

const chatwootMessage = {
  event: 'appContext',
  data: {
    conversation: {
      id: 42,
      inbox_id: 3,
      status: 'open',
      labels: ['vip', 7],
      meta: { sender: { id: 9, name: 'From meta', phone_number: '+14155550123' } },
      messages: [
        { content: 'first', private: false },
        { content: 'the latest customer words', private: false },
        { content: 'an internal note', private: true },
      ],
    },
    contact: { id: 9, name: 'Ada Lovelace', email: 'ada@example.com', phone_number: '+442079460958' },
    currentAgent: { id: 1, name: 'Agent' },
  },
};

describe('parseAppContext', () => {
  it('reads Chatwoot’s JSON string: conversation, contact, agent and the latest public message', () => {
    expect(parseAppContext(JSON.stringify(chatwootMessage))).toEqual({
      conversation: { id: 42, inbox_id: 3, status: 'open', labels: ['vip'], contact_id: 9, last_message: 'the latest customer words' },
      contact: { id: 9, name: 'Ada Lovelace', email: 'ada@example.com', phone_number: '+442079460958' },
      currentAgent: { id: 1, name: 'Agent' },
    });
  });

  it('falls back to the conversation’s sender when no contact is given', () => {
    const { contact: _c, ...data } = chatwootMessage.data;
    expect(parseAppContext({ event: 'appContext', data })?.contact).toEqual({ id: 9, name: 'From meta', email: null, phone_number: '+14155550123' });
  });

  it('ignores anything else', () => {
    for (const message of ['not json', '{"event":"other"}', { event: 'appContext', data: { conversation: { id: 'x' } } }, { event: 'appContext' }, null, 42]) {
      expect(parseAppContext(message)).toBeNull();
    }
  });
});

describe('useChatwootContext', () => {
  it('asks the parent for the context and accepts it only from the parent window and the Chatwoot origin', async () => {
    const parent = { postMessage: vi.fn() } as unknown as Window;
    vi.spyOn(window, 'parent', 'get').mockReturnValue(parent);
    let state!: ReturnType<typeof useChatwootContext>;
    mount(defineComponent({ setup: () => ((state = useChatwootContext(() => 'https://chat.example.com')), () => h('div')) }));
    expect(parent.postMessage).toHaveBeenCalledWith(fetchInfoMessage, '*');

    const post = (origin: string, source: unknown) => window.dispatchEvent(new MessageEvent('message', { data: JSON.stringify(chatwootMessage), origin, source: source as Window }));
    post('https://evil.example.com', parent);
    post('https://chat.example.com', window); // right origin, wrong window
    await nextTick();
    expect(state.context.value).toBeNull();
    post('https://chat.example.com', parent);
    await nextTick();
    expect(state.context.value?.conversation.id).toBe(42);
    vi.restoreAllMocks();
  });
});
