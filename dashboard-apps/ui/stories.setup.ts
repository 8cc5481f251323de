// Stories render with the same design tokens as the apps.
import './theme.css';

/** For "Dark" variants of components that render in a portal (menus, dialogs, toasts): the whole page goes dark. */
export function darkPage() {
  document.documentElement.classList.add('dark');
}
