// The admin app's calls: the typed client (lib/api.ts), errors turned into one readable line.
//   const users = await call<User[]>(() => api.GET('/api/v1/admin/users'));
import { ref } from 'vue';
import { t } from '../../i18n/index.ts';
import { api, errorMessage, unwrap } from '../../lib/api.ts';

export { api };

export function useAdminApi() {
  const error = ref<string | null>(null);
  const busy = ref(false);
  async function call<T = unknown>(request: () => Parameters<typeof unwrap>[0]): Promise<T | null> {
    busy.value = true;
    try {
      const { data } = await unwrap<T>(request());
      error.value = null;
      return data;
    } catch (err) {
      error.value = errorMessage(err, t('common.unreachable'));
      return null;
    } finally {
      busy.value = false;
    }
  }
  return { call, error, busy };
}
