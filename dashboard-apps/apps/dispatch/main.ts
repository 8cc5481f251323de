import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { useLocale } from '../../i18n/index.ts';
import '../shared/board-page.css';
import DispatchBoardApp from './DispatchBoardApp.vue';

useLocale();
createApp(DispatchBoardApp).use(createPinia()).mount('#app');
