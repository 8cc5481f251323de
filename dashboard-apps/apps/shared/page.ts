// What every full page shares: the session, the Chatwoot address and account the URL names
// (where to check a sign-in, never who is signed in), and a "still loading" flag.
import { useUrlSearchParams } from '@vueuse/core';
import { computed, onMounted, ref } from 'vue';
import { useSessionStore } from '../../stores/session.ts';

export function useAppPage() {
  const session = useSessionStore();
  const params = useUrlSearchParams('history');
  const chatwootUrl = computed(() => (typeof params.chatwoot === 'string' ? params.chatwoot : undefined));
  const accountId = computed(() => (typeof params.account === 'string' && /^\d+$/.test(params.account) ? Number(params.account) : undefined));
  const booting = ref(true);
  onMounted(async () => {
    await session.load();
    booting.value = false;
  });
  return { session, params, chatwootUrl, accountId, booting };
}
