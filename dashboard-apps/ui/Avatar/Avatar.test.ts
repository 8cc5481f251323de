import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import Avatar from './Avatar.vue';

describe('Avatar', () => {
  it('shows first and last initials, labelled with the name, on a hue of the name', () => {
    const wrapper = mount(Avatar, { props: { name: 'priya van der Berg' } });
    const fallback = wrapper.get('[role="img"]');
    expect(fallback.text()).toBe('PB');
    expect(fallback.attributes('aria-label')).toBe('priya van der Berg');
    const hue = (wrapper.element as HTMLElement).style.getPropertyValue('--ol-avatar-hue');
    expect(mount(Avatar, { props: { name: 'priya van der Berg' } }).element.getAttribute('style')).toContain(`--ol-avatar-hue: ${hue}`);
    expect(mount(Avatar, { props: { name: 'Mei' } }).get('[role="img"]').text()).toBe('M');
    expect(mount(Avatar, { props: { name: '  ' } }).get('[role="img"]').text()).toBe('?');
  });
});
