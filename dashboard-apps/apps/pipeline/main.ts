import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { useLocale } from '../../i18n/index.ts';
import '../shared/board-page.css';
import PipelineBoardApp from './PipelineBoardApp.vue';

useLocale();
createApp(PipelineBoardApp).use(createPinia()).mount('#app');
