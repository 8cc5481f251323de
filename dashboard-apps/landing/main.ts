import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../ui/theme.css';
import LandingPage from './LandingPage.vue';

createApp(LandingPage).use(createPinia()).mount('#app');
