import { beforeEach, describe, expect, it } from 'vitest';
import { dismiss, toast, toasts } from './toasts.ts';

describe('toasts', () => {
  beforeEach(() => (toasts.value = []));

  it('keeps errors until dismissed and lets the rest time out', () => {
    toast('Saved', { tone: 'success' });
    const error = toast('Could not save', { tone: 'danger' });
    expect(toasts.value.map((t) => [t.title, t.duration])).toEqual([
      ['Saved', 5000],
      ['Could not save', Infinity],
    ]);
    dismiss(error);
    expect(toasts.value.map((t) => t.title)).toEqual(['Saved']);
  });

  it('shows only the latest four of a burst', () => {
    for (let i = 1; i <= 6; i++) toast(`Notice ${i}`);
    expect(toasts.value.map((t) => t.title)).toEqual(['Notice 3', 'Notice 4', 'Notice 5', 'Notice 6']);
  });
});
