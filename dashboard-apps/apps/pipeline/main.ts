import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import PipelineBoardApp from './PipelineBoardApp.vue';

createApp(PipelineBoardApp).use(createPinia()).mount('#app');
