import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import Tabs from './Tabs.vue';

const tabs = [
  { value: 'deals', label: 'Deals' },
  { value: 'jobs', label: 'Jobs' },
];

describe('Tabs', () => {
  it('shows the first panel and switches on click, updating v-model', async () => {
    const wrapper = mount(Tabs, {
      props: { tabs, label: 'Records', modelValue: 'deals', 'onUpdate:modelValue': (v: string | undefined) => wrapper.setProps({ modelValue: v }) },
      slots: { deals: '<p>Deals panel</p>', jobs: '<p>Jobs panel</p>' },
      attachTo: document.body,
    });
    expect(wrapper.get('[role="tablist"]').attributes('aria-label')).toBe('Records');
    expect(wrapper.text()).toContain('Deals panel');
    expect(wrapper.text()).not.toContain('Jobs panel');

    const jobsTab = wrapper.findAll('[role="tab"]')[1]!;
    await jobsTab.trigger('mousedown', { button: 0 });
    await nextTick();
    expect(wrapper.props('modelValue')).toBe('jobs');
    expect(wrapper.text()).toContain('Jobs panel');
    expect(jobsTab.attributes('aria-selected')).toBe('true');
    wrapper.unmount();
  });
});
