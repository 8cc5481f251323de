// Saved views of a board (the caller's own and those shared with the account): a name for a set
// of the board's filters. One store per board.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { apiFetch, ApiError } from '../lib/api.ts';
import { useSessionStore } from './session.ts';
import { t } from '../i18n/index.ts';

export type BoardName = 'pipeline' | 'dispatch';
export interface SavedView { id: string; board: BoardName; name: string; filters: Record<string, string>; shared: boolean; mine: boolean }

export function useSavedViews(board: BoardName) {
  return defineStore(`saved-views-${board}`, () => {
    const session = useSessionStore();
    const views = ref<SavedView[]>([]);
    const error = ref<string | null>(null);
    const api = <T>(path: string, init: Parameters<typeof apiFetch>[1] = {}) => apiFetch<T>(path, { token: session.token, ...init });
    const attempt = async <T>(work: () => Promise<T>): Promise<T | null> => {
      try {
        const result = await work();
        error.value = null;
        return result;
      } catch (err) {
        error.value = err instanceof ApiError ? err.message : t('common.unreachable');
        return null;
      }
    };

    const load = () =>
      attempt(async () => {
        views.value = (await api<SavedView[]>(`/api/v1/saved-views?board=${board}`)).data;
      });
    const save = (name: string, filters: Record<string, string>, shared: boolean) =>
      attempt(async () => {
        const view = (await api<SavedView>('/api/v1/saved-views', { method: 'POST', json: { board, name, filters, shared } })).data;
        await load();
        return view;
      });
    const remove = (view: SavedView) =>
      attempt(async () => {
        await api(`/api/v1/saved-views/${view.id}`, { method: 'DELETE' });
        await load();
        return true;
      });
    return { views, error, load, save, remove };
  })();
}
