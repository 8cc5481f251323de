// The portal's addresses, under /portal/vendor/ (the server answers every one of them with the
// portal's page, and so does the service worker offline). Notification links land here too:
// /offers/:offerId opens the offers tab, /documents the business page. Every page loads on demand:
// the first paint waits only for the shell's own small stylesheet (see index.html's splash).
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router';
import { part } from './features.ts';
import { isOwner, me } from './session.ts';

const routes: RouteRecordRaw[] = [
  { path: '/', name: 'jobs', component: () => import('./pages/JobsPage.vue') },
  { path: '/jobs/:jobId', name: 'job', component: () => import('./pages/JobPage.vue'), props: true },
  { path: '/jobs/:jobId/messages', name: 'job-messages', component: () => import('./pages/JobMessagesPage.vue'), props: true },
  { path: '/offers/:offerId', redirect: { name: 'jobs', query: { tab: 'offered' } } },
  { path: '/business', name: 'business', component: part('business/BusinessPage'), meta: { owners: true } },
  { path: '/documents', redirect: { name: 'business' } },
  { path: '/team', name: 'team', component: part('team/TeamPage'), meta: { owners: true } },
  { path: '/account', name: 'account', component: () => import('./pages/AccountPage.vue') },
  { path: '/sign-in', name: 'sign-in', component: () => import('./pages/SignInPage.vue'), meta: { public: true } },
  { path: '/:rest(.*)*', redirect: { name: 'jobs' } },
];

export function createPortalRouter() {
  const router = createRouter({ history: createWebHistory('/portal/vendor/'), routes });
  router.beforeEach((to) => {
    if (to.meta.public) return true;
    if (!me.value) return { name: 'sign-in', query: to.fullPath === '/' ? {} : { next: to.fullPath } };
    if (to.meta.owners && !isOwner.value) return { name: 'jobs' };
    return true;
  });
  return router;
}
