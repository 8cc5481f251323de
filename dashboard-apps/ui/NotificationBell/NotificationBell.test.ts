import { flushPromises, mount } from '@vue/test-utils';
import { describe, expect, it, vi } from 'vitest';
import NotificationBell from './NotificationBell.vue';
import { badgeText, type BellItem } from './types.ts';

const items: BellItem[] = [
  { id: 'a', title: 'Job J-7 is yours', body: 'Boiler not firing.', created_at: new Date().toISOString(), read_at: null, urgent: true, href: '/apps/dispatch/?job=7', newTab: true },
  { id: 'b', title: 'Due soon: call back', body: 'Due at 15:00.', created_at: new Date().toISOString(), read_at: new Date().toISOString(), urgent: false },
];

/** The list lives in a popover loaded on first open: wait for the import and the portal. */
async function settle() {
  for (let i = 0; i < 5; i++) {
    await flushPromises();
    await vi.dynamicImportSettled();
  }
}

describe('NotificationBell', () => {
  it('caps the badge at 99+ and says the count in the button’s name', () => {
    expect([0, 7, 99, 100, 2500].map(badgeText)).toEqual(['0', '7', '99', '99+', '99+']);
    const many = mount(NotificationBell, { props: { count: 250, items: [] } });
    expect(many.get('[data-testid="bell-count"]').text()).toBe('99+');
    expect(many.get('button').attributes('aria-label')).toBe('Notifications, 99+ unread');
    const none = mount(NotificationBell, { props: { count: 0, items: [] } });
    expect(none.find('[data-testid="bell-count"]').exists()).toBe(false);
    expect(none.get('button').attributes('aria-label')).toBe('Notifications');
    expect(none.get('button').attributes('aria-expanded')).toBe('false');
  });

  it('opens the list on click: items with unread dot and urgent mark, links in a new tab, and its actions', async () => {
    const wrapper = mount(NotificationBell, { props: { count: 1, items, settings: true }, attachTo: document.body });
    await wrapper.get('button').trigger('click');
    expect(wrapper.emitted('opened')).toHaveLength(1);
    await settle();
    const panel = document.querySelector('[data-testid="bell-panel"]');
    expect(panel).not.toBeNull();
    const entries = [...document.querySelectorAll<HTMLElement>('[data-testid="notification"]')];
    expect(entries.map((e) => e.tagName)).toEqual(['A', 'BUTTON']);
    expect(entries[0]!.getAttribute('target')).toBe('_blank');
    expect(entries[0]!.getAttribute('rel')).toBe('noopener');
    expect(entries[0]!.dataset.unread).toBe('true');
    expect(entries[1]!.dataset.unread).toBeUndefined();
    expect(entries[0]!.textContent).toContain('Urgent');

    entries[1]!.click();
    expect(wrapper.emitted('select')?.[0]?.[0]).toMatchObject({ id: 'b' });
    const byText = (text: string) => [...document.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent?.trim() === text || b.getAttribute('aria-label') === text)!;
    byText('Mark all read').click();
    byText('Notification settings').click();
    expect(wrapper.emitted('markAllRead')).toHaveLength(1);
    expect(wrapper.emitted('settings')).toHaveLength(1);

    // Down moves to the next item.
    entries[0]!.focus();
    entries[0]!.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }));
    expect(document.activeElement).toBe(entries[1]);
    wrapper.unmount();
  });

  it('shows placeholders while loading, the error with a retry, and the empty state', async () => {
    const wrapper = mount(NotificationBell, { props: { count: null, items: [], loading: true, open: true }, attachTo: document.body });
    await settle();
    expect(document.querySelector('[data-testid="bell-panel"]')?.textContent).toContain('Loading…');
    await wrapper.setProps({ loading: false, error: 'Onelink could not be reached' });
    expect(document.querySelector('[data-testid="bell-panel"] [role="alert"]')?.textContent).toContain('Onelink could not be reached');
    [...document.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent?.trim() === 'Try again')!.click();
    expect(wrapper.emitted('retry')).toHaveLength(1);
    await wrapper.setProps({ error: null });
    expect(document.querySelector('[data-testid="bell-panel"]')?.textContent).toContain('No notifications yet');
    wrapper.unmount();
  });
});
