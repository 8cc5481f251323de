import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { account } from '../../i18n/en/account.ts';
import { addEnglish, useLocale } from '../../i18n/index.ts';
import AccountApp from './AccountApp.vue';

addEnglish(account);
useLocale();
createApp(AccountApp).use(createPinia()).mount('#app');
