import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import Button from './Button.vue';

describe('Button', () => {
  it('emits click when enabled', async () => {
    const wrapper = mount(Button, { slots: { default: 'Save' } });
    await wrapper.trigger('click');
    expect(wrapper.emitted('click')).toHaveLength(1);
    expect(wrapper.element.tagName).toBe('BUTTON');
    expect(wrapper.attributes('type')).toBe('button');
  });

  it('does not emit click while disabled or loading, and says so to assistive tech', async () => {
    for (const props of [{ disabled: true }, { loading: true }]) {
      const wrapper = mount(Button, { props, slots: { default: 'Save' } });
      await wrapper.trigger('click');
      expect(wrapper.emitted('click')).toBeUndefined();
      expect(wrapper.attributes('aria-disabled')).toBe('true');
    }
    expect(mount(Button, { props: { loading: true } }).attributes('aria-busy')).toBe('true');
  });

  it('renders a link when given href', () => {
    const wrapper = mount(Button, { props: { href: '/api/v1/docs' }, slots: { default: 'Docs' } });
    expect(wrapper.element.tagName).toBe('A');
    expect(wrapper.attributes('href')).toBe('/api/v1/docs');
    expect(wrapper.attributes('type')).toBeUndefined();
  });
});
