import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import '../shared/board-page.css';
import PipelineBoardApp from './PipelineBoardApp.vue';

createApp(PipelineBoardApp).use(createPinia()).mount('#app');
