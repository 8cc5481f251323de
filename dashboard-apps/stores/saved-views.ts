// Saved views of a board (the caller's own and those shared with the account): a name for a set
// of the board's filters. One store per board.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api, errorMessage, unwrap } from '../lib/api.ts';
import { t } from '../i18n/index.ts';

export type BoardName = 'pipeline' | 'dispatch';
export interface SavedView { id: string; board: BoardName; name: string; filters: Record<string, string>; shared: boolean; mine: boolean }

export function useSavedViews(board: BoardName) {
  return defineStore(`saved-views-${board}`, () => {
    const views = ref<SavedView[]>([]);
    const error = ref<string | null>(null);
    const attempt = async <T>(work: () => Promise<T>): Promise<T | null> => {
      try {
        const result = await work();
        error.value = null;
        return result;
      } catch (err) {
        error.value = errorMessage(err, t('common.unreachable'));
        return null;
      }
    };

    const load = () =>
      attempt(async () => {
        views.value = (await unwrap<SavedView[]>(api.GET('/api/v1/saved-views', { params: { query: { board } } }))).data;
      });
    const save = (name: string, filters: Record<string, string>, shared: boolean) =>
      attempt(async () => {
        const view = (await unwrap<SavedView>(api.POST('/api/v1/saved-views', { body: { board, name, filters, shared } }))).data;
        await load();
        return view;
      });
    const remove = (view: SavedView) =>
      attempt(async () => {
        await unwrap(api.DELETE('/api/v1/saved-views/{viewId}', { params: { path: { viewId: view.id } } }));
        await load();
        return true;
      });
    return { views, error, load, save, remove };
  })();
}
