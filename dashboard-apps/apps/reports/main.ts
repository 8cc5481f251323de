import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { addEnglish, useLocale } from '../../i18n/index.ts';
import { reports } from '../../i18n/en/reports.ts';
import ReportsApp from './ReportsApp.vue';

addEnglish(reports);
useLocale();
createApp(ReportsApp).use(createPinia()).mount('#app');
