import { afterEach, describe, expect, it } from 'vitest';
import { sidebar } from './en/sidebar.ts';
import { addCatalogue, addEnglish, t, useLocale } from './index.ts';

describe('t', () => {
  addEnglish(sidebar);
  afterEach(() => useLocale(['en']));

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(t('sidebar.conversation', { id: 42 })).toBe('Conversation #42');
    expect(t('sidebar.markDone')).toBe('Mark “{title}” done');
  });

  it('uses the closest translation, falling back to English for what it lacks', () => {
    addCatalogue('de', { 'sidebar.deals': 'Geschäfte' });
    useLocale(['de-AT', 'en']);
    expect(t('sidebar.deals')).toBe('Geschäfte');
    expect(t('sidebar.jobs')).toBe('Jobs');
    useLocale(['fr']);
    expect(t('sidebar.deals')).toBe('Deals');
  });

  it('shows the key of a part a page did not load, rather than nothing', () => {
    expect(t('admin.settings')).toBe('admin.settings');
  });
});
