import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import '../shared/board-page.css';
import DispatchBoardApp from './DispatchBoardApp.vue';

createApp(DispatchBoardApp).use(createPinia()).mount('#app');
