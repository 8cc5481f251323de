import { createPinia } from 'pinia';
import { createApp } from 'vue';
import '../../ui/theme.css';
import { addEnglish, useLocale } from '../../i18n/index.ts';
import { boards } from '../../i18n/en/boards.ts';
import { dispatchOffers } from '../../i18n/en/dispatch-offers.ts';
import { vendorDocuments } from '../../i18n/en/vendor-documents.ts';
import '../shared/board-page.css';
import DispatchBoardApp from './DispatchBoardApp.vue';

addEnglish(boards);
addEnglish(dispatchOffers);
addEnglish(vendorDocuments);
useLocale();
createApp(DispatchBoardApp).use(createPinia()).mount('#app');
