// The admin app's calls: the session's token, errors turned into one readable line.
import { ref } from 'vue';
import { apiFetch, ApiError } from '../../lib/api.ts';
import { useSessionStore } from '../../stores/session.ts';

export function useAdminApi() {
  const session = useSessionStore();
  const error = ref<string | null>(null);
  const busy = ref(false);
  async function call<T>(path: string, init: Parameters<typeof apiFetch>[1] = {}): Promise<T | null> {
    busy.value = true;
    try {
      const { data } = await apiFetch<T>(`/api/v1${path}`, { token: session.token, ...init });
      error.value = null;
      return data;
    } catch (err) {
      error.value = err instanceof ApiError ? err.message : 'Onelink could not be reached';
      return null;
    } finally {
      busy.value = false;
    }
  }
  return { call, error, busy };
}
