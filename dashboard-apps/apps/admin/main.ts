import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { useLocale } from '../../i18n/index.ts';
import AdminApp from './AdminApp.vue';

useLocale();
createApp(AdminApp).use(createPinia()).mount('#app');
