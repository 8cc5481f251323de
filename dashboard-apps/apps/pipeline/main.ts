import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { addEnglish, useLocale } from '../../i18n/index.ts';
import { boards } from '../../i18n/en/boards.ts';
import '../shared/board-page.css';
import PipelineBoardApp from './PipelineBoardApp.vue';

addEnglish(boards);
useLocale();
createApp(PipelineBoardApp).use(createPinia()).mount('#app');
