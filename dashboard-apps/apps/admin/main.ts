import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import AdminApp from './AdminApp.vue';

createApp(AdminApp).use(createPinia()).mount('#app');
