import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { addEnglish, useLocale } from '../../i18n/index.ts';
import { admin } from '../../i18n/en/admin.ts';
import AdminApp from './AdminApp.vue';

addEnglish(admin);
useLocale();
createApp(AdminApp).use(createPinia()).mount('#app');
