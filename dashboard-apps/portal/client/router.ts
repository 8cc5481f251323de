// The client portal's addresses, under /portal/client/ (the server answers every one of them with
// the portal's page, and so does the service worker offline). Every page loads on demand, so the
// first paint waits only for the shell. The pages of the messages, jobs and quotes folders are
// found by name: a build without one of them shows a "not available yet" note in its place.
import { createRouter, createWebHistory, type RouteComponent, type RouteRecordRaw } from 'vue-router';
import { me } from './session.ts';

const pages = import.meta.glob(['./messages/*Page.vue', './jobs/*Page.vue', './quotes/*Page.vue']);
const page = (name: string): RouteComponent => (pages[`./${name}.vue`] ?? (() => import('./components/MissingPage.vue'))) as RouteComponent;

const routes: RouteRecordRaw[] = [
  { path: '/', name: 'messages', component: page('messages/MessagesPage') },
  { path: '/messages/:threadId', name: 'thread', component: page('messages/ThreadPage'), props: true },
  { path: '/jobs', name: 'jobs', component: page('jobs/JobsPage') },
  { path: '/jobs/:jobId', name: 'job', component: page('jobs/JobPage'), props: true },
  { path: '/request', name: 'request', component: page('jobs/RequestPage') },
  { path: '/quotes', name: 'quotes', component: page('quotes/QuotesPage') },
  { path: '/quotes/:quoteId', name: 'quote', component: page('quotes/QuotePage'), props: true },
  { path: '/account', name: 'account', component: () => import('./AccountPage.vue') },
  { path: '/sign-in', name: 'sign-in', component: () => import('./SignInPage.vue'), meta: { public: true } },
  { path: '/:rest(.*)*', redirect: { name: 'messages' } },
];

export function createPortalRouter() {
  const router = createRouter({ history: createWebHistory('/portal/client/'), routes });
  router.beforeEach((to) => {
    if (to.meta.public) return true;
    if (!me.value) return { name: 'sign-in', query: to.fullPath === '/' ? {} : { next: to.fullPath } };
    return true;
  });
  return router;
}
