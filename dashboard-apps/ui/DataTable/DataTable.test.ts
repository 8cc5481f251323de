import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import { h } from 'vue';
import DataTable from './DataTable.vue';

interface Person { id: string; name: string; role: string | null }
const columns = [
  { key: 'name', label: 'Name' },
  { key: 'role', label: 'Role', muted: true },
  { key: 'actions', label: 'Actions', hideLabel: true },
];
const people: Person[] = [
  { id: '1', name: 'Casey Agent', role: 'agent' },
  { id: '2', name: 'Dana Admin', role: null },
];
const base = { columns, rowKey: (p: Person) => p.id, caption: 'People of this account', empty: 'Nobody yet.' };

describe('DataTable', () => {
  it('names itself and its columns, and shows one row per record', () => {
    const table = mount(DataTable<Person>, {
      props: { ...base, rows: people, rowTestid: 'person' },
      slots: { 'cell-actions': ({ row }: { row: Person }) => h('button', `Edit ${row.name}`) },
    });
    expect(table.find('caption').text()).toBe('People of this account');
    expect(table.findAll('th').map((th) => [th.attributes('scope'), th.text()])).toEqual([['col', 'Name'], ['col', 'Role'], ['col', 'Actions']]);
    expect(table.find('th:last-child span').classes()).toContain('ol-table__sr');
    const rows = table.findAll('[data-testid="person"]');
    expect(rows.map((row) => row.findAll('td').map((td) => td.text()))).toEqual([
      ['Casey Agent', 'agent', 'Edit Casey Agent'],
      ['Dana Admin', '', 'Edit Dana Admin'],
    ]);
    expect(table.find('[role="region"]').attributes('aria-label')).toBe('People of this account');
  });

  it('says so when there is nothing, instead of an empty table', () => {
    const table = mount(DataTable<Person>, { props: { ...base, rows: [] } });
    expect(table.find('table').exists()).toBe(false);
    expect(table.find('[role="status"]').text()).toBe('Nobody yet.');
  });

  it('shows placeholder rows while loading, and marks itself busy', () => {
    const table = mount(DataTable<Person>, { props: { ...base, rows: [], loading: true } });
    expect(table.find('[role="region"]').attributes('aria-busy')).toBe('true');
    expect(table.findAll('tbody tr')).toHaveLength(3);
    expect(table.find('[role="status"]').exists()).toBe(false);
  });
});
