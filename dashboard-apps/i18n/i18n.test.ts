import { afterEach, describe, expect, it } from 'vitest';
import { addCatalogue, t, useLocale } from './index.ts';

describe('t', () => {
  afterEach(() => useLocale(['en']));

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(t('sidebar.conversation', { id: 42 })).toBe('Conversation #42');
    expect(t('sidebar.markDone')).toBe('Mark “{title}” done');
  });

  it('uses the closest catalogue, falling back to English for what it lacks', () => {
    addCatalogue('de', { 'sidebar.deals': 'Geschäfte' });
    useLocale(['de-AT', 'en']);
    expect(t('sidebar.deals')).toBe('Geschäfte');
    expect(t('sidebar.jobs')).toBe('Jobs');
    useLocale(['fr']);
    expect(t('sidebar.deals')).toBe('Deals');
  });
});
