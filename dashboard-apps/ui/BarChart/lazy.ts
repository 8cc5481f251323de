// The bar chart, fetched when a page first shows one: the chart library stays out of the page's
// first script (a table of the same figures is on the page meanwhile).
import { defineAsyncComponent, h } from 'vue';
import Skeleton from '../Skeleton/Skeleton.vue';

export const LazyBarChart = defineAsyncComponent({
  loader: () => import('./BarChart.vue'),
  loadingComponent: { render: () => h(Skeleton, { height: 200 }) },
  delay: 0,
});
