import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { addEnglish, useLocale } from '../../i18n/index.ts';
import { sidebar } from '../../i18n/en/sidebar.ts';
import SidebarApp from './SidebarApp.vue';

addEnglish(sidebar);
useLocale();
createApp(SidebarApp).use(createPinia()).mount('#app');
