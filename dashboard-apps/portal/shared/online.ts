// Whether the phone has a network at all (the browser's view): the portals' offline banner follows it.
import { ref } from 'vue';

export const online = ref(typeof navigator === 'undefined' ? true : navigator.onLine);
if (typeof window !== 'undefined') {
  window.addEventListener('online', () => (online.value = true));
  window.addEventListener('offline', () => (online.value = false));
}
