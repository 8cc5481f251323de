// What the landing page shows about this running service (version, database, migrations).
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { api, errorMessage, unwrap } from '../lib/api.ts';

export interface ServiceStatus {
  service: 'onelink';
  version: string;
  public_url: string;
  database: { mode: 'embedded' | 'external'; reachable: boolean };
  migrations: { applied: number; pending: string[] };
}

export const useServiceStatusStore = defineStore('service-status', () => {
  const status = ref<ServiceStatus | null>(null);
  const error = ref<string | null>(null);
  const loading = ref(false);

  async function load() {
    loading.value = true;
    error.value = null;
    try {
      status.value = (await unwrap<ServiceStatus>(api.GET('/api/v1/status'))).data;
    } catch (err) {
      error.value = errorMessage(err, 'Unexpected error');
    } finally {
      loading.value = false;
    }
  }

  return { status, error, loading, load };
});
