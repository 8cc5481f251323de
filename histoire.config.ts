// Component stories for dashboard-apps/ui (npm run story:dev / story:build).
import vue from '@vitejs/plugin-vue';
import { HstVue } from '@histoire/plugin-vue';
import { defineConfig } from 'histoire';

export default defineConfig({
  plugins: [HstVue()],
  setupFile: 'dashboard-apps/ui/stories.setup.ts',
  storyMatch: ['dashboard-apps/**/*.story.vue'],
  outDir: 'dist/stories',
  theme: { title: 'Onelink components' },
  vite: { plugins: [vue()] },
});
