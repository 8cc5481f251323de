import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import AccountApp from './AccountApp.vue';

createApp(AccountApp).use(createPinia()).mount('#app');
