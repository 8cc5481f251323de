import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { useLocale } from '../../i18n/index.ts';
import SidebarApp from './SidebarApp.vue';

useLocale();
createApp(SidebarApp).use(createPinia()).mount('#app');
