// Light, dark, or like the phone: the choice is kept on the device and put on <html> as the kit's
// theme expects (theme.css follows the system unless `light` or `dark` is there).
import { ref } from 'vue';

export type ThemeChoice = 'system' | 'light' | 'dark';
const key = 'onelink.portal.theme';

function stored(): ThemeChoice {
  try {
    const value = localStorage.getItem(key);
    return value === 'light' || value === 'dark' ? value : 'system';
  } catch {
    return 'system';
  }
}

export const theme = ref<ThemeChoice>(stored());

export function applyTheme(choice: ThemeChoice = theme.value) {
  theme.value = choice;
  document.documentElement.classList.toggle('light', choice === 'light');
  document.documentElement.classList.toggle('dark', choice === 'dark');
  try {
    if (choice === 'system') localStorage.removeItem(key);
    else localStorage.setItem(key, choice);
  } catch {
    // not kept: this page still shows it
  }
}
