import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import SidebarApp from './SidebarApp.vue';

createApp(SidebarApp).use(createPinia()).mount('#app');
