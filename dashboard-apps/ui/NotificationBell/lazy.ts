// A component loaded on first use with a plain dynamic import (defineAsyncComponent would add its
// runtime to the small pages that show the bell).
import { shallowRef, type Component } from 'vue';

export function lazyComponent() {
  const loaded = shallowRef<Component | null>(null);
  return {
    get value() {
      return loaded.value;
    },
    set(component: Component) {
      loaded.value = component;
    },
  };
}
