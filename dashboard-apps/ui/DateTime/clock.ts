// One clock for every DateTime on the page, ticking once a minute while anything shows it.
import { ref, onBeforeUnmount, type Ref } from 'vue';

const now = ref(new Date());
let users = 0;
let timer: ReturnType<typeof setInterval> | undefined;

export function useMinuteClock(): Readonly<Ref<Date>> {
  if (users++ === 0) timer = setInterval(() => (now.value = new Date()), 60_000);
  onBeforeUnmount(() => {
    if (--users === 0) clearInterval(timer);
  });
  return now;
}
