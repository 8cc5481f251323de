// The page's queue of short notices ("J-1042 assigned to Acme Plumbing"). Any code may call
// `toast()`; the one <Toaster /> of the page shows them. Errors stay until dismissed; the rest
// leave on their own.
import { ref } from 'vue';

export type ToastTone = 'info' | 'success' | 'danger';
export interface Toast { id: number; title: string; description?: string; tone: ToastTone; duration: number }

let next = 1;
export const toasts = ref<Toast[]>([]);

export function toast(title: string, options: { description?: string; tone?: ToastTone; duration?: number } = {}) {
  const tone = options.tone ?? 'info';
  const entry: Toast = { id: next++, title, description: options.description, tone, duration: options.duration ?? (tone === 'danger' ? Infinity : 5000) };
  // A burst of notices should not bury the page: keep the latest few.
  toasts.value = [...toasts.value.slice(-3), entry];
  return entry.id;
}

export function dismiss(id: number) {
  toasts.value = toasts.value.filter((t) => t.id !== id);
}
